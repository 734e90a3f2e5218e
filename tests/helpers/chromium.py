"""How gmcnn drives Debian's headless Chromium (browser tests and the README screenshot).

The flags keep Chromium from reaching for Google's services, which a machine without a network refuses many
times a second, and allow running as root in CI.
"""

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
