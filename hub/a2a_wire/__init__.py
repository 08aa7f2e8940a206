"""The A2A 1.0 wire format as JSON, shared by the hub's A2A door and its upstream A2A client.

Field names are protobuf's JSON names of the a2a-sdk's ``a2a_pb2`` types (``supportedInterfaces``,
``returnImmediately``, ``artifactUpdate``...), so what one side writes the other reads. Nothing here
does I/O or knows a door or a backend:

* ``names``: paths, bindings, the version header, task states, media types;
* ``card``: an agent card read into the ``Endpoint`` a client sends to;
* ``answer``: a ``SendMessageRequest`` to send, and what an answer or stream event says;
* ``errors``: the HTTP+JSON (``google.rpc``) error body, and errors read back as ``HubError``s;
* ``proto``: ``SendMessageRequest`` JSON -> protobuf and ``Task`` protobuf -> JSON by hand, for the
  door's fast path (the only module here that imports the a2a-sdk and protobuf).
"""
