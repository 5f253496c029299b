"""Tech-support-scam and fake-alert page signals: what makes a page hold the reader hostage.

Such pages carry no exploit and no payload: they take the screen (fullscreen, pointer and keyboard
lock), trap the back button and closing (history loops, beforeunload), nag (alert/confirm loops,
an alarm sound) and tell the reader to call a number about a virus. Each signal alone is common
on ordinary pages; the finding needs the pressure (screen or navigation capture, or a support
number) together with the alarm wording. Counts only, over bounded text.
"""

from __future__ import annotations

import re

MAX_CHARS = 1 << 20  # of script and of visible text each

_FULLSCREEN = re.compile(r"(?:request|webkitrequest|mozrequest|msrequest)full[sS]creen|\.requestpointerlock\b"
                         r"|keyboard\.lock\s*\(", re.I)
_DIALOGS = re.compile(r"\b(?:window\.)?(?:alert|confirm|prompt)\s*\(", re.I)
_TRAPS = re.compile(r"onbeforeunload|['\"]beforeunload['\"]|history\.pushstate\s*\(|history\.forward\s*\(", re.I)
_AUDIO = re.compile(r"<audio\b[^>]{0,200}\bautoplay|new\s+audio\s*\(|\.play\s*\(\s*\)", re.I)
# North-American toll-free numbers and "+<country> <digits>" runs as scam pages print them.
_PHONE = re.compile(r"(?<!\d)(?:\+?1[\s.\-]?)?\(?8(?:00|33|44|55|66|77|88)\)?[\s.\-]?\d{3}[\s.\-]?\d{4}(?!\d)")
_ALARM = re.compile(
    r"\b(?:virus(?:es)?|malware|spyware|trojan|infected|infection|hacked|hacker|pornographic|"
    r"security (?:alert|warning|breach)|firewall|windows defender|microsoft (?:support|security)|apple support|"
    r"tech(?:nical)? support|call (?:microsoft|support|us|now|immediately|the number)|toll[ -]free|"
    r"do not (?:shut ?down|restart|close|ignore)|your (?:computer|pc|system|device) (?:is|has been|will be)|"
    r"(?:access|computer|pc|system) (?:is |has been )?(?:blocked|locked|suspended|disabled)|error code|"
    r"identity theft|data (?:is )?at risk|registry failure)\b", re.I)


def scam_signals(script: str, markup: str, visible: str) -> dict[str, int]:
    """Counts of each signal; `markup` is the page source (audio tags), `visible` its text."""
    script, markup, visible = script[:MAX_CHARS], markup[:MAX_CHARS], visible[:MAX_CHARS]
    return {
        "fullscreen": len(_FULLSCREEN.findall(script)),
        "dialogs": len(_DIALOGS.findall(script)),
        "navigation_traps": len(_TRAPS.findall(script)) + len(_TRAPS.findall(markup[:65536])),
        "alarm_audio": len(_AUDIO.findall(markup)) if ("audio" in markup.lower() or ".play" in script) else 0,
        "support_phones": len(_PHONE.findall(visible)),
        "alarm_words": len(_ALARM.findall(visible)),
    }


def is_support_scam(s: dict[str, int]) -> bool:
    """Pressure (screen or navigation capture, nagging, an alarm sound, or a support number) with
    the alarm wording that makes it a scam rather than a kiosk page or a shop's contact line."""
    pressure = (s["fullscreen"] > 0) + (s["navigation_traps"] > 0) + (s["dialogs"] >= 2) + (s["alarm_audio"] > 0) \
        + (s["support_phones"] > 0)
    return s["alarm_words"] >= 3 and pressure >= 2
