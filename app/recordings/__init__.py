"""Call recordings (V6): FreeSWITCH's WAV converted to MP3 by a job, stored per tenant,
searched and played in the browser, paused during card payments, purged by retention."""
