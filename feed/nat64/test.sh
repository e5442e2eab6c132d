#!/bin/sh
# Called by the packages CI as: test.sh <package name> <package version>.
# The version may carry the release suffix (0.1.0-r1 or 0.1.0-1); the program
# prints the upstream version only.

case "$1" in
nat64)
	version="${2%-r[0-9]*}"
	version="${version%-[0-9]*}"
	out="$(nat64 --version 2>&1)" || { echo "nat64 --version failed: $out"; exit 1; }
	case "$out" in
	*"$version"*) echo "ok: $out" ;;
	*) echo "nat64 --version prints '$out', expected version $version"; exit 1 ;;
	esac
	;;
*)
	echo "unknown package $1"
	exit 1
	;;
esac
