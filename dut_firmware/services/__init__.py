"""Network services of the reader: HTTP API, Modbus TCP server, MQTT client."""
