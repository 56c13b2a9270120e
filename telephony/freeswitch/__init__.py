"""FreeSWITCH media nodes driven over the Event Socket (ESL).

- ``protocol``: ESL framing and event decoding (pure functions).
- ``client``: gevent inbound ESL client, handlers by event name, reconnect with backoff.
- ``tracker``: FreeSWITCH events -> ``CallEvent``s for the calls we own (pure).
- ``backend``: ``FreeSwitchCallControl``, the ``CallControl``/``AgentCallControl``
  implementation over one ESL session per node, with reconciliation after drops.
- ``commands``: validated api command lines; ``amd``: answering-machine detectors;
  ``nodes``: node settings and where agent conferences live.
- ``xmlcurl``: the directory/dialplan documents served to mod_xml_curl.
- ``conf/``: the node's FreeSWITCH configuration (secrets from the environment).
"""
