"""The camera path: a driver for a camera index, video file or stream URL (OpenCV), the LED's region found
and measured, and a simulated camera that films the software DUT's LED."""
