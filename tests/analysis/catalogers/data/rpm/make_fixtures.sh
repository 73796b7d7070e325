#!/bin/sh
# Rebuild the rpm database fixtures from the specs in specs/ (Debian: apt-get install rpm
# db5.3-util). rpmdb.sqlite is written by rpm itself (rpm 4.18, sqlite backend); the
# Berkeley DB files hold the same header blobs written by libdb's db5.3_load as hash
# databases (rpm 4.18 can only read bdb: its bdb_ro backend is how the test cross-checks
# them). expected.tsv is what `rpm -qa` prints for the sqlite database.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for spec in "$here"/specs/*.spec; do
    rpmbuild --quiet --define "_topdir $work/top" -bb "$spec"
done
mkdir "$work/db"
rpm --dbpath "$work/db" --initdb
rpm -i --justdb --nodeps --noscripts --dbpath "$work/db" "$work"/top/RPMS/*/*.rpm
gzip -9 -n -c "$work/db/rpmdb.sqlite" > "$here/rpmdb.sqlite.gz"
rpm -qa --dbpath "$work/db" \
    --qf '%{NAME}\t%{EVR}\t%{ARCH}\t%{SOURCERPM}\t%{LICENSE}\n' | sort > "$here/expected.tsv"
python3 - "$work/db/rpmdb.sqlite" "$work" <<'PY'
import sqlite3, struct, sys
rows = sqlite3.connect(sys.argv[1]).execute("SELECT hnum, blob FROM Packages ORDER BY hnum")
body = "".join(f" {struct.pack('<I', h).hex()}\n {bytes(b).hex()}\n" for h, b in rows)
for name, extra in (("le4096", ""), ("be512", "db_lorder=4321\ndb_pagesize=512\n")):
    with open(f"{sys.argv[2]}/{name}.txt", "w") as out:
        out.write(f"VERSION=3\nformat=bytevalue\ntype=hash\n{extra}HEADER=END\n{body}DATA=END\n")
PY
db5.3_load -f "$work/le4096.txt" "$here/Packages-le4096.bdb"
db5.3_load -f "$work/be512.txt" "$here/Packages-be512.bdb"
