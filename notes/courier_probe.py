"""Raw IMAP/POP3 transcripts against the Courier container (notes/courier.md). Not shipped."""
import socket
import sys


class Raw:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.file = self.sock.makefile("rb")
        self.n = 0

    def line(self):
        data = self.file.readline()
        sys.stdout.write("S: " + data.decode(errors="replace"))
        return data

    def imap(self, command, literal=None):
        self.n += 1
        tag = f"a{self.n}"
        text = f"{tag} {command}"
        if literal is not None:
            text += " {%d}" % len(literal)
        sys.stdout.write(f"C: {text}\n")
        self.sock.sendall(text.encode() + b"\r\n")
        if literal is not None:
            self.line()  # continuation
            self.sock.sendall(literal + b"\r\n")
        while True:
            data = self.line()
            while data.rstrip(b"\r\n").endswith(b"}") and b"{" in data:
                size = int(data.rstrip(b"\r\n").rsplit(b"{", 1)[1][:-1])
                body = self.file.read(size)
                sys.stdout.write(body.decode(errors="replace"))
                data = self.line()
            if data.startswith(tag.encode() + b" "):
                return data

    def pop(self, command, multi=False):
        sys.stdout.write(f"C: {command}\n")
        self.sock.sendall(command.encode() + b"\r\n")
        first = self.line()
        if multi and first.startswith(b"+OK"):
            while self.line() not in (b".\r\n", b""):
                pass


def message(n, subject, date):
    return (f"From: sender{n}@example.net\r\nTo: alice@example.org\r\nSubject: {subject}\r\n"
            f"Date: {date}\r\nMessage-ID: <m{n}@example.net>\r\n\r\nBody of message {n}.\r\n").encode()


if __name__ == "__main__":
    host, what = sys.argv[1], sys.argv[2]
    if what == "seed":
        user, password = sys.argv[3], sys.argv[4]
        c = Raw(host, 143)
        c.line()
        c.imap("CAPABILITY")
        c.imap(f"LOGIN {user} {password}")
        c.imap("CAPABILITY")
        c.imap("NAMESPACE")
        c.imap('LIST "" "*"')
        c.imap("CREATE INBOX.Archive")
        c.imap("CREATE INBOX.Archive.2024")
        c.imap("SUBSCRIBE INBOX")
        c.imap("SUBSCRIBE INBOX.Archive")
        c.imap("SUBSCRIBE INBOX.Archive.2024")
        c.imap(r'APPEND INBOX (\Seen) "01-Jan-2024 10:00:00 +0000"', message(1, "seen", "Mon, 1 Jan 2024 10:00:00 +0000"))
        c.imap(r'APPEND INBOX (\Seen \Flagged Work) "02-Feb-2024 11:30:00 +0100"', message(2, "flagged work", "Fri, 2 Feb 2024 11:30:00 +0100"))
        c.imap(r'APPEND INBOX (\Answered $Forwarded) "03-Mar-2024 12:00:00 -0500"', message(3, "answered fwd", "Sun, 3 Mar 2024 12:00:00 -0500"))
        c.imap(r'APPEND INBOX () "04-Apr-2024 08:00:00 +0000"', message(4, "plain", "Thu, 4 Apr 2024 08:00:00 +0000"))
        c.imap(r'APPEND INBOX.Archive (\Seen \Draft Work Personal) "05-May-2023 09:00:00 +0000"', message(5, "draft", "Fri, 5 May 2023 09:00:00 +0000"))
        c.imap(r'APPEND INBOX.Archive (\Seen $Forwarded) "06-Jun-2023 09:00:00 +0000"', message(6, "archived", "Tue, 6 Jun 2023 09:00:00 +0000"))
        c.imap(r'APPEND INBOX.Archive.2024 (\Seen \Answered \Flagged Personal) "07-Jul-2024 07:07:07 +0200"', message(7, "2024", "Sun, 7 Jul 2024 07:07:07 +0200"))
        c.imap("LSUB \"\" \"*\"")
        c.imap('LIST "" "*"')
        for box in ("INBOX", "INBOX.Archive", "INBOX.Archive.2024"):
            c.imap(f"STATUS {box} (MESSAGES UIDNEXT UIDVALIDITY)")
        c.imap("LOGOUT")
    elif what == "fetch":
        user, password = sys.argv[3], sys.argv[4]
        c = Raw(host, 143)
        c.line()
        c.imap(f"LOGIN {user} {password}")
        for box in sys.argv[5:]:
            c.imap(f"SELECT {box}")
            c.imap("UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")
        c.imap("FETCH 1 (X-GUID)")
        c.imap("FETCH 1 (UID X-GUID)")
        c.imap("GETACL INBOX")
        c.imap("MYRIGHTS INBOX")
        c.imap("LOGOUT")
    elif what == "imap":
        user, password = sys.argv[3], sys.argv[4]
        c = Raw(host, 143)
        c.line()
        c.imap(f"LOGIN {user} {password}")
        for command in sys.argv[5:]:
            c.imap(command)
        c.imap("LOGOUT")
    elif what == "pop":
        user, password = sys.argv[3], sys.argv[4]
        c = Raw(host, 110)
        c.line()
        c.pop("CAPA", multi=True)
        c.pop(f"USER {user}")
        c.pop(f"PASS {password}")
        c.pop("STAT")
        c.pop("LIST", multi=True)
        c.pop("UIDL", multi=True)
        for command in sys.argv[5:]:
            c.pop(command, multi=command.startswith(("TOP", "RETR")))
        c.pop("QUIT")
