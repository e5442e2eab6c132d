# Shared by every v6only package Makefile in this feed.
#
# The Rust sources are not downloaded: they are the Cargo workspace this feed lives in
# (feed/ is added with `src-link`, so the workspace is two levels above the package dir,
# after resolving the symlinks OpenWrt puts in package/feeds/).

V6ONLY_SRC:=$(realpath $(CURDIR)/../..)

PKG_MAINTAINER:=v6only developers
PKG_LICENSE:=MIT
PKG_BUILD_DEPENDS:=rust/host
PKG_BUILD_PARALLEL:=1

# rust-package.mk's Build/Compile installs the crate at $(PKG_BUILD_DIR)/$(MAKE_PATH).
MAKE_PATH:=packages/$(PKG_NAME)

define Build/Prepare
	mkdir -p $(PKG_BUILD_DIR)
	$(CP) $(V6ONLY_SRC)/Cargo.toml $(V6ONLY_SRC)/Cargo.lock $(V6ONLY_SRC)/packages $(PKG_BUILD_DIR)/
endef
