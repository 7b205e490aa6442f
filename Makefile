# Two commands: `make demo` and `make test`. Both install what they need first.
# `make test-fast`: the tests that need no Dovecot, PostgreSQL, Chromium or LibreOffice and are
# not slow (markers in pyproject.toml), in under three minutes; `make test` runs them all.
VENV     := .venv
PYTHON   := $(VENV)/bin/python
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
# What the program needs at run time (the .deb depends on these; README, "Installing"):
# media probing (ffmpeg, MediaInfo), the console's PDF previews (poppler-utils), PDF export
# (LibreOffice; python3-uno, which drives it: one start per conversion) and CJK fonts
# (texlive-lang-chinese is the only Debian package with the Fandol faces: FangSong, Kai).
RUNTIME_PACKAGES := ffmpeg mediainfo libmediainfo0v5 poppler-utils fonts-noto-cjk \
	fonts-arphic-ukai fonts-arphic-uming texlive-lang-chinese libreoffice-writer-nogui python3-uno
# Plus, for the tests and `make dist`: zzuf and exiftool (hostile fixtures, fuzzing), the IMAP
# server and PostgreSQL 15, Chromium (and its driver) for the console's browser tests,
# Debian's python3-venv and systemd-analyze for the package.
SYSTEM_PACKAGES := $(RUNTIME_PACKAGES) libreoffice-calc-nogui libimage-exiftool-perl zzuf dovecot-imapd postgresql \
	chromium chromium-driver python3-venv dpkg-dev systemd
DIST ?= dist

.PHONY: demo test test-fast lint bench system venv dist clean

system:
	@scripts/install-system-packages.sh $(SYSTEM_PACKAGES)

$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q -e '.[test,bench]'
	touch $(STAMP)

venv: $(STAMP)

# The main job on the embedded defaults (config.yaml): sample files, then their verdicts.
# `validate` exits 1 because the samples include files that fail on purpose; 2 is a real error.
demo: system venv
	$(PYTHON) -m safetymonth.samples var/samples
	$(BIN)/safetymonth validate var/samples || test $$? -eq 1
	# Intake: a week of sample mail into the Maildir inbox, one poll, the unit report.
	$(PYTHON) -m safetymonth.mailbox.samplemail var/inbox
	$(BIN)/safetymonth poll --once
	$(BIN)/safetymonth report
	@echo "The replies are in var/outbox/new/ (one file per reply)."
	# Documents (GB/T 9704): the example notices, the letters and the summary, with PDFs.
	# A leading '-': a missing LibreOffice (PDF export) must not stop the rest of the demo.
	-$(BIN)/safetymonth generate notice examples/notice-weihai-2016.yaml -o var/out/notice-weihai-2016.docx --pdf
	-$(BIN)/safetymonth generate notice examples/notice-dehua-2024.yaml -o var/out/notice-dehua-2024.docx --pdf
	-$(BIN)/safetymonth generate letter examples/letters-2024.yaml -o var/out/letters --pdf
	-$(BIN)/safetymonth generate summary examples/summary-2024.yaml -o var/out/summary-2024.docx --pdf

# The wheels `make dist` packs, fetched once here (an install step, like pip's): the packaging
# tests then build the .deb with no network (PIP_NO_INDEX=1).
WHEELHOUSE := build/wheelhouse/.filled
$(WHEELHOUSE): pyproject.toml
	deploy/debian/build-deb.sh build/prefetch $(RUNTIME_PACKAGES) >/dev/null
	rm -rf build/prefetch
	touch $(WHEELHOUSE)

# PYTHONDONTWRITEBYTECODE cleared for pytest: it keeps the modules whose asserts it rewrites
# (the tests, and whole hypothesis, schemathesis and anyio, the packages of pytest plugins)
# in __pycache__; with the variable set it rewrites them all again, ~10 s of CPU a process.
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/pytest

test: system venv $(WHEELHOUSE)
	$(BIN)/ruff check safetymonth tests bench
	$(PYTEST)

FAST := not dovecot and not postgres and not browser and not libreoffice and not slow

# Two pytest-xdist workers, one per core: the tests share no port, folder or store.
test-fast: system venv
	$(BIN)/ruff check safetymonth tests bench
	$(PYTEST) -n 2 -m "$(FAST)"

lint: venv
	$(BIN)/ruff check safetymonth tests bench

bench: system venv
	$(PYTHON) bench/validate.py
	$(PYTHON) bench/docgen.py
	$(PYTHON) bench/console.py

# The wheel and the .deb (deploy/debian/build-deb.sh) into $(DIST)/: README, "Installing".
dist:
	deploy/debian/build-deb.sh $(DIST) $(RUNTIME_PACKAGES)

clean:
	rm -rf var/ .pytest_cache build/dist
