# The Debian bookworm minbase image the pull, push and save/load benches share (sourced; the
# caller sets BENCH, CACHE and NAME and has sourced common.sh): debootstrap once into
# $CACHE/oci (one gzip layer), $CACHE/layer.tar.gz and $CACHE/layer.tar.size.

# The first bookworm mirror that apt itself uses (sources.list or deb822 .sources).
apt_mirror() {
    python3 - <<'EOF'
import glob, re, sys
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        line = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
        if len(line) >= 3 and line[0] == "deb" and line[2] == "bookworm":
            print(line[1]); sys.exit(0)
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for para in open(path).read().split("\n\n"):
        fields = {}
        for line in para.splitlines():
            if line.startswith("#") or ":" not in line or line[0].isspace():
                continue
            k, v = line.split(":", 1)
            fields[k.strip().lower()] = v.split()
        if (fields.get("enabled", ["yes"])[0] != "no" and "deb" in fields.get("types", [])
                and "bookworm" in fields.get("suites", []) and fields.get("uris")):
            print(fields["uris"][0]); sys.exit(0)
sys.exit("no bookworm mirror in apt's sources")
EOF
}

build_image() {
    local rootfs=$CACHE/rootfs mirror
    mirror=$(apt_mirror) || die "cannot find a Debian mirror in apt's configuration"
    say "debootstrap --variant=minbase bookworm from $mirror (a few minutes, once)"
    rm -rf "$rootfs" "$CACHE/oci" "$CACHE/layer.tar" "$CACHE/layer.tar.gz"
    mkdir -p "$rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$CACHE/debootstrap.log" 2>&1 ||
        { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*_Packages
    say "tar + gzip"
    tar --numeric-owner --sort=name --xattrs -C "$rootfs" -cf "$CACHE/layer.tar" .
    gzip -n -6 -c "$CACHE/layer.tar" >"$CACHE/layer.tar.gz"
    python3 "$BENCH/lib/mklayout.py" "$CACHE/layer.tar" "$CACHE/layer.tar.gz" "$CACHE/oci" >/dev/null
    stat -c %s "$CACHE/layer.tar" >"$CACHE/layer.tar.size"
    rm -rf "$rootfs" "$CACHE/layer.tar"
    touch "$CACHE/oci/.complete"
}

# debian_layout : build the image unless $CACHE/oci/.complete says it is there.
debian_layout() {
    mkdir -p "$CACHE"
    [ -f "$CACHE/oci/.complete" ] || build_image
}
