"""The judges of a stream: each interface's verdict on each frame, made while the DUT shows it.

HTTP and Modbus are polled back to back for each frame until they show it, a newer frame, or the frame's
deadline passes (``rig.judges.polls``); MQTT messages are judged as they arrive, and a frame without a
message fails at its deadline (``rig.judges.mqtt``). Every verdict goes through a ``CheckLog``
(``rig.judges.log``): written to ``checks.jsonl`` at once, on the run clock, and counted in each
interface's summary. What the judges know of the stream, the window of frames they may still need, is a
``StreamState`` (``rig.judges.state``).
"""

from rig.judges.log import CheckLog
from rig.judges.mqtt import MqttJudge, check_mqtt
from rig.judges.polls import FramePoll, FrameQueue, poll_http, poll_modbus, same_list
from rig.judges.state import CLOCK_MEMORY, SentWindow, StreamState

__all__ = ["CLOCK_MEMORY", "CheckLog", "FramePoll", "FrameQueue", "MqttJudge", "SentWindow", "StreamState",
           "check_mqtt", "poll_http", "poll_modbus", "same_list"]
