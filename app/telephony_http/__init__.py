"""HTTP endpoints the telephony servers call: FreeSWITCH's mod_xml_curl (directory
and dialplan per tenant)."""
