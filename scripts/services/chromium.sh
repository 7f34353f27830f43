#!/usr/bin/env bash
# Headless Chromium for the passkey real-browser test (passport/passkey).
#
#   chromium.sh start STATEDIR   # installs Debian's chromium if missing,
#                                # prints HUMAN_TEST_CHROMIUM=/path
#   chromium.sh stop STATEDIR    # nothing to stop: each test starts its own
#                                # browser process (chromedp) and ends it
#
# The test drives the browser through the DevTools protocol with a virtual
# CTAP2 authenticator; it needs only the binary.
set -euo pipefail
cmd=${1:?usage: chromium.sh start|stop STATEDIR}
state=${2:?usage: chromium.sh start|stop STATEDIR}

find_chromium() {
	for c in chromium chromium-browser google-chrome; do
		if p=$(command -v "$c" 2>/dev/null); then
			echo "$p"
			return 0
		fi
	done
	return 1
}

case "$cmd" in
start)
	mkdir -p "$state"
	if ! bin=$(find_chromium); then
		echo "chromium: not installed; installing the Debian package" >&2
		sudo=""
		[ "$(id -u)" -ne 0 ] && sudo="sudo"
		$sudo apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >&2
		bin=$(find_chromium) || { echo "chromium: install failed" >&2; exit 1; }
	fi
	"$bin" --version >&2 || { echo "chromium: $bin does not run" >&2; exit 1; }
	echo "HUMAN_TEST_CHROMIUM=$bin"
	;;
stop) ;;
*)
	echo "usage: chromium.sh start|stop STATEDIR" >&2
	exit 2
	;;
esac
