import json
import os

from django.apps import AppConfig


class SignalLogConfig(AppConfig):
    name = "tests.apps.signal_log"

    def ready(self):
        from realtime import signals

        for name in signals.__all__:
            signal = getattr(signals, name)
            signal.connect(writer(name), weak=False)
        signals.message_stored.connect(raises, weak=False)


def writer(name):
    def write(sender, **kwargs):
        record = {"signal": name, **{k: v for k, v in kwargs.items() if k != "signal"}}
        with open(os.environ["SIGNAL_LOG"], "a") as log:
            log.write(json.dumps(record) + "\n")

    return write


def raises(sender, **kwargs):
    raise RuntimeError("a receiver that fails")
