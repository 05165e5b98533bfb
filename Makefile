# rtaio — build, test, benchmark, install.
# `make` builds the release library at target/release/librtaio.so (soname librtaio.so.1).

PREFIX    ?= /usr/local
LIBDIR    ?= $(PREFIX)/lib
INCDIR    ?= $(PREFIX)/include
BINDIR    ?= $(PREFIX)/bin
PCDIR     ?= $(LIBDIR)/pkgconfig
MANDIR    ?= $(PREFIX)/share/man
# Private programs of the launcher (rtaio-doctor, for `rtaio --doctor`).
PKGLIBDIR ?= $(LIBDIR)/rtaio
DESTDIR   ?=
CARGO     ?= cargo
VERSION   := 0.1.0
# How `install` strips the shared library and the static archive (empty: not stripped).
# `make deb` strips both as Debian's dh_strip does.
STRIP     ?= strip
STRIP_SHLIB  ?= --strip-debug
STRIP_STATIC ?=

OUT       := target/release
# Manual pages, relative to man/ and to $(MANDIR).
MANPAGES   = $(patsubst man/%,%,$(wildcard man/man*/*.[0-9]))
LIB       := $(OUT)/librtaio.so
export RTAIO_LIBDIR := $(abspath $(OUT))

.PHONY: deps all build test unit-test c-test conformance fio-verify check-abi stress sanitize demo bench install uninstall deb clean

all: build

deps:
	bash tests/deps.sh

build:
	$(CARGO) build --release --workspace
	@# the soname link, so that programs linked with -lrtaio find librtaio.so.1 at run time
	ln -sf librtaio.so $(OUT)/librtaio.so.1

# Every test: Rust unit tests, C tests (linked and preloaded), ABI check, fio verification,
# POSIX conformance (glibc, link, preload). The last line is the overall tally.
test: deps build
	bash tests/run-all.sh

unit-test:
	$(CARGO) test --workspace --release

c-test: build
	bash tests/run-c-tests.sh

conformance: build
	bash posix-conformance/run.sh

fio-verify: build
	bash tests/fio-verify.sh

check-abi: build
	bash tests/check-abi.sh

# Data-integrity stress test (bounded time, model-checked), linked and preloaded.
stress: build
	bash tests/run-stress.sh --repro

# The C tests and the stress test under AddressSanitizer+UBSan and ThreadSanitizer.
sanitize: build
	bash tests/sanitize.sh

demo: deps build
	bash tests/demo.sh

bench: deps build
	bash bench/run.sh

install: build
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(PCDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(PKGLIBDIR)
	install -m 0644 librt-aio/include/rtaio.h $(DESTDIR)$(INCDIR)/rtaio.h
	for page in $(MANPAGES); do \
	    install -d $(DESTDIR)$(MANDIR)/$$(dirname $$page) && \
	    install -m 0644 man/$$page $(DESTDIR)$(MANDIR)/$$page || exit 1; \
	done
	install -m 0755 $(LIB) $(DESTDIR)$(LIBDIR)/librtaio.so.$(VERSION)
	$(if $(STRIP_SHLIB),$(STRIP) $(STRIP_SHLIB) $(DESTDIR)$(LIBDIR)/librtaio.so.$(VERSION))
	ln -sf librtaio.so.$(VERSION) $(DESTDIR)$(LIBDIR)/librtaio.so.1
	ln -sf librtaio.so.1 $(DESTDIR)$(LIBDIR)/librtaio.so
	install -m 0644 $(OUT)/librtaio.a $(DESTDIR)$(LIBDIR)/librtaio.a
	$(if $(STRIP_STATIC),$(STRIP) $(STRIP_STATIC) $(DESTDIR)$(LIBDIR)/librtaio.a)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCDIR@|$(INCDIR)|g' \
	    -e 's|@VERSION@|$(VERSION)|g' rtaio.pc.in > $(DESTDIR)$(PCDIR)/rtaio.pc
	install -m 0755 $(OUT)/rtaio-doctor $(DESTDIR)$(PKGLIBDIR)/rtaio-doctor
	$(if $(STRIP_SHLIB),$(STRIP) $(STRIP_SHLIB) $(DESTDIR)$(PKGLIBDIR)/rtaio-doctor)
	sed -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@PKGLIBDIR@|$(PKGLIBDIR)|g' rtaio.in > $(DESTDIR)$(BINDIR)/rtaio
	chmod 0755 $(DESTDIR)$(BINDIR)/rtaio

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/librtaio.so.$(VERSION) $(DESTDIR)$(LIBDIR)/librtaio.so.1 \
	      $(DESTDIR)$(LIBDIR)/librtaio.so $(DESTDIR)$(LIBDIR)/librtaio.a \
	      $(DESTDIR)$(PCDIR)/rtaio.pc $(DESTDIR)$(BINDIR)/rtaio $(DESTDIR)$(INCDIR)/rtaio.h \
	      $(DESTDIR)$(PKGLIBDIR)/rtaio-doctor $(addprefix $(DESTDIR)$(MANDIR)/,$(MANPAGES))
	-rmdir $(DESTDIR)$(PKGLIBDIR) 2>/dev/null

# Debian packages librtaio1, librtaio-dev and rtaio in build/deb/ (packaging/debian/README.md):
# `make install` into a staging tree with Debian's paths, then split, checked and built with
# dpkg-deb by packaging/debian/build-debs.sh.
DEB_OUT       := build/deb
DEB_MULTIARCH ?= $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || $(CC) -print-multiarch)
DEB_STAGE     := $(DEB_OUT)/stage
DEB_DIRS      := PREFIX=/usr LIBDIR=/usr/lib/$(DEB_MULTIARCH) INCDIR=/usr/include BINDIR=/usr/bin \
                 PKGLIBDIR=/usr/lib/$(DEB_MULTIARCH)/rtaio \
                 PCDIR=/usr/lib/$(DEB_MULTIARCH)/pkgconfig MANDIR=/usr/share/man

deb: build
	@test -n "$(DEB_MULTIARCH)" || { echo "deb: cannot tell the multiarch triplet (dpkg-architecture, cc -print-multiarch)" >&2; exit 1; }
	rm -rf $(DEB_STAGE)
	$(MAKE) --no-print-directory install DESTDIR=$(abspath $(DEB_STAGE)) $(DEB_DIRS) \
	    STRIP_SHLIB="--remove-section=.comment --remove-section=.note --strip-unneeded" \
	    STRIP_STATIC="--strip-debug --remove-section=.comment --remove-section=.note --enable-deterministic-archives"
	$(DEB_DIRS) VERSION=$(VERSION) MULTIARCH=$(DEB_MULTIARCH) \
	    bash packaging/debian/build-debs.sh $(DEB_STAGE) $(DEB_OUT)

clean:
	$(CARGO) clean
	rm -rf build
