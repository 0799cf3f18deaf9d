"""A local SMTP server in a process of its own (aiosmtpd on 127.0.0.1), for the benchmarks:
it accepts every message, keeps nothing but the recipients, and on SIGTERM prints how many
messages it received and how many distinct recipients they had.

    python -m bench.smtpd PORT
"""

import asyncio
import signal
import sys

from aiosmtpd.controller import Controller


class Counter:
    def __init__(self):
        self.messages = 0
        self.recipients = set()

    async def handle_DATA(self, server, session, envelope):
        self.messages += 1
        self.recipients.update(envelope.rcpt_tos)
        return "250 OK"


def main(port):
    counter = Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()
    print(f"{counter.messages} {len(counter.recipients)}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
