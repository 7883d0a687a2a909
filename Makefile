# `make run` sets everything up and starts the chat; `make test` runs every test.
# Both are idempotent: a stamp file skips the install when pyproject.toml is unchanged.
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
SYSSTAMP := $(VENV)/.system-deps
PYTHON  ?= python3

.PHONY: install run test eval bench system-deps clean-index

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[st,eval,test]'
	@touch $(STAMP)

# Debian's chromium and a CJK font for the browser tests (Playwright's own browser download
# does not work offline). Skipped when they are already there.
system-deps: $(SYSSTAMP)

$(SYSSTAMP):
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi 'noto.*cjk'; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi
	@mkdir -p $(VENV) && touch $(SYSSTAMP)

run: install
	$(VENV)/bin/policykb ingest
	$(VENV)/bin/policykb serve

test: install system-deps
	$(PY) -m pytest -q

# The big knowledge base of `make eval`: the notice plus packs/finance-laws, built once into
# eval/artifacts/kb (git-ignored) and rebuilt when the corpus or the pack changes.
BIGKB   := eval/artifacts/kb
BIGENV  := POLICYKB_CORPUS_DIR=$(BIGKB)/corpus POLICYKB_INDEX_DIR=$(BIGKB)/index

$(BIGKB)/.built: $(STAMP) $(wildcard corpus/*) $(wildcard packs/finance-laws/*.md)
	rm -rf $(BIGKB) && mkdir -p $(BIGKB) && cp -r corpus $(BIGKB)/corpus
	$(BIGENV) $(VENV)/bin/policykb add packs/finance-laws
	@touch $@

# (a) the notice's sets on the notice alone, (b) the same sets inside notice + finance-laws,
# (c) the STARD dev half over notice + finance-laws; each with its baselines; (d) the conversation set → eval/chat,
# and the three conversation sets written blind → eval/chat/heldout, eval/chat/blind2, eval/chat/blind3;
# (e) English questions over the laws and the blind out-of-scope set, over notice + finance-laws.
eval: install $(BIGKB)/.built
	$(VENV)/bin/policykb eval eval/questions.jsonl
	$(VENV)/bin/policykb eval eval/heldout.jsonl --out eval/heldout
	$(BIGENV) $(VENV)/bin/policykb eval eval/questions.jsonl --out eval/big-kb
	$(BIGENV) $(VENV)/bin/policykb eval eval/heldout.jsonl --out eval/big-kb/heldout
	$(BIGENV) $(VENV)/bin/policykb eval eval/stard/stard-finance-dev.jsonl --out eval/stard
	$(BIGENV) $(VENV)/bin/policykb eval eval/english-laws.jsonl --out eval/english
	$(BIGENV) $(VENV)/bin/policykb eval eval/oos.jsonl --out eval/oos
	$(BIGENV) $(VENV)/bin/policykb eval eval/conversations.jsonl
	$(BIGENV) $(VENV)/bin/policykb eval eval/conversations-heldout.jsonl --out eval/chat/heldout
	$(BIGENV) $(VENV)/bin/policykb eval eval/conversations-blind2.jsonl --out eval/chat/blind2
	$(BIGENV) $(VENV)/bin/policykb eval eval/conversations-blind3.jsonl --out eval/chat/blind3

bench: install
	$(PY) eval/bench.py

clean-index:
	rm -rf index/chroma index/bm25 index/manifest.json
