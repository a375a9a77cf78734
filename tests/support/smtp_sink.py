"""A real SMTP server for the mail tests: aiosmtpd on 127.0.0.1, one JSON file per message.

Usage: smtp_sink.py --port P --dir D [--reply "554 5.7.1 Relay denied"]

Each accepted message becomes D/NNNN.json with the envelope (mail_from, rcpt_tos), the raw
data, and what Python's e-mail parser makes of it (headers, text and HTML bodies, attachments
decoded: text as `content`, binary such as .xlsx or .gz as `content_hex`), so the Rust test
checks the MIME the way a mail client would read it. Files are written to a
temporary name and renamed, so a test never reads half a message. With --reply, every DATA
is answered with that line instead (to test permanent rejections). Runs until killed.
"""

import argparse
import asyncio
import email
import email.policy
import json
import os

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, directory, reply):
        self.directory = directory
        self.reply = reply
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        if self.reply:
            return self.reply
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        text = None
        html = None
        attachments = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            filename = part.get_filename()
            if filename:
                content = part.get_content()
                attachment = {
                    "filename": filename,
                    "content_type": part.get_content_type(),
                    "content": content,
                }
                if isinstance(content, bytes):
                    attachment["content"] = None
                    attachment["content_hex"] = content.hex()
                attachments.append(attachment)
            elif part.get_content_type() == "text/plain" and text is None:
                text = part.get_content()
            elif part.get_content_type() == "text/html" and html is None:
                html = part.get_content()
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "subject": str(msg["subject"]),
            "from": str(msg["from"]),
            "to": [str(a) for a in msg["to"].addresses] if msg["to"] else [],
            "message_id": str(msg["message-id"]),
            "text": text,
            "html": html,
            "attachments": attachments,
            "raw": raw.decode("utf-8", "replace"),
        }
        self.count += 1
        path = os.path.join(self.directory, "%04d.json" % self.count)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False)
        os.rename(path + ".tmp", path)
        return "250 OK: queued as %d" % self.count


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--reply", default="")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    handler = Sink(args.dir, args.reply)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.test"), host="127.0.0.1", port=args.port
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
