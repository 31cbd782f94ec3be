"""Every chart builder: functions that take plain data and return an Altair chart; pages decide where to draw it."""
