"""What clients see on two servers (Courier old, Dovecot new), side by side (notes/courier.md). Not shipped."""
import poplib
import sys

from imapclient import IMAPClient


def imap_view(host, user, password, prefix):
    with IMAPClient(host, port=143, ssl=False) as client:
        client.login(user, password)
        view = {"namespace": str(client.namespace()),
                "subscribed": sorted(name for _, _, name in client.list_sub_folders())}
        for box in ("INBOX", "Archive", "Archive.2024"):
            name = box if box == "INBOX" else prefix + box.replace(".", prefix[-1] if prefix else "/")
            status = client.select_folder(name, readonly=True)
            rows = client.fetch(client.search("ALL"), ["UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
            view[box] = {"uidvalidity": status[b"UIDVALIDITY"], "uidnext": status.get(b"UIDNEXT"),
                         "messages": [(uid, sorted(f.decode() for f in r[b"FLAGS"] if f != b"\\Recent"),
                                       r[b"INTERNALDATE"].isoformat(), r[b"RFC822.SIZE"],
                                       next(v for k, v in r.items() if k.startswith(b"BODY[")).decode().strip())
                                      for uid, r in sorted(rows.items())]}
    return view


def pop_view(host, user, password):
    pop = poplib.POP3(host, 110)
    pop.user(user)
    pop.pass_(password)
    uidl = [line.decode() for line in pop.uidl()[1]]
    sizes = [line.decode() for line in pop.list()[1]]
    pop.quit()
    return {"uidl": uidl, "list": sizes}


if __name__ == "__main__":
    host, user, password, prefix = sys.argv[1:5]
    import json
    print(json.dumps({"imap": imap_view(host, user, password, prefix),
                      "pop3": pop_view(host, user, password)}, indent=1, default=str))
