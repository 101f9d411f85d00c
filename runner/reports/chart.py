"""The cutover timeline as a picture an admin can look at (timeline.png in the report
directory): per second, what the internet sent, what old and new accepted, and what waited
in the sender's queue, with the steps as marked events. Drawn by matplotlib (Agg: no display)."""

from __future__ import annotations

from pathlib import Path


def draw_timeline(timeline: dict, title: str, path: Path) -> None:
    import matplotlib  # noqa: PLC0415  imported when a cutover report is written, not before
    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: PLC0415

    rows = timeline["seconds"]
    seconds = [row["second"] for row in rows]
    figure, axes = pyplot.subplots(figsize=(12, 5.5), dpi=100)
    try:
        for key, label, colour in (("sent", "sent by the internet", "black"),
                                   ("delivered_old", "accepted by old", "tab:orange"),
                                   ("delivered_new", "accepted by new", "tab:green"),
                                   ("bounced", "bounced", "tab:red")):
            axes.step(seconds, [row[key] for row in rows], where="post", label=label, color=colour)
        axes.fill_between(seconds, [row["queued"] for row in rows], step="post", alpha=0.25, color="tab:blue",
                          label="queued at the sender")
        top = max([1] + [max(row["queued"], row["sent"], row["delivered_old"], row["delivered_new"]) for row in rows])
        for number, event in enumerate(timeline["events"], 1):
            axes.axvline(event["at"], color="grey", linewidth=0.6, linestyle=":")
            axes.annotate(str(number), (event["at"], top * 1.02), fontsize=7, ha="center", annotation_clip=False)
        axes.set_xlabel("seconds since the traffic started")
        axes.set_ylabel("messages (per second; queued: at that second)")
        axes.set_title(title, fontsize=10)
        axes.legend(loc="upper left", fontsize=8)
        legend = "\n".join(f"{number}  {event['at']:>5.1f} s  {event['step']}"
                           for number, event in enumerate(timeline["events"], 1))
        figure.text(0.70, 0.5, legend, fontsize=6.5, family="monospace", va="center")
        figure.subplots_adjust(right=0.68)
        figure.savefig(path)
    finally:
        pyplot.close(figure)
