#!/bin/sh
# openwrt/packages CI runs this as: test.sh <package name> <package version>.
# The binary must run and print its version (without a release suffix such as -r1).

case "$1" in
mesh-monitor)
	mesh-monitor --version 2>&1 | grep -F "${2%-*}"
	;;
esac
