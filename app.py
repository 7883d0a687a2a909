"""Start the chat app: `python app.py [--host H] [--port N]` is `policykb serve`."""
import sys

from policykb.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
