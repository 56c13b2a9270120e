"""The application's side of the telephony servers: the HTTP endpoints FreeSWITCH's
mod_xml_curl calls (directory and dialplan per tenant), and the job that keeps
Kamailio's routing tables in line with the trunks and rate decks."""
