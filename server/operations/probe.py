"""``python -m server.operations.probe [PATH]``: exit 0 if this host's service
answers PATH (``/readyz`` by default) with 200, 1 otherwise. For container healthchecks,
where curl may not be installed; it asks 127.0.0.1 on PORT (8000)."""

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 5


def main(argv):
    path = argv[1] if len(argv) > 1 else "/readyz"
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}{path}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            print(response.read().decode())
            return 0
    except urllib.error.HTTPError as error:
        print(f"{url}: {error.code} {error.read().decode()}")
    except OSError as error:
        print(f"{url}: {error}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
