#!/usr/bin/env python3
"""The SQLite layout measurement behind docs/decisions/0003: a JSON document column with an
expression index against typed columns, 100,000 rows, run with Python's sqlite3.

usage: python3 bench/sqlite_layout.py   (writes scratch databases under a temp dir)
"""
import sqlite3, json, random, time, string, os, tempfile
tmp=tempfile.mkdtemp()
N=100_000
def rid(): return ''.join(random.choices(string.ascii_letters+string.digits,k=10))
rows=[(rid(), random.randint(0,999), f"name-{i}") for i in range(N)]
res={}
for layout in ("document","columns"):
    path=os.path.join(tmp, f"{layout}.db")
    if os.path.exists(path): os.remove(path)
    db=sqlite3.connect(path); db.execute("pragma journal_mode=wal"); db.execute("pragma synchronous=normal")
    if layout=="document":
        db.execute("create table t(objectId text primary key, doc text not null)")
        db.execute("create index ix on t(json_extract(doc,'$.score'))")
        ins="insert into t values(?,?)"; data=[(r[0], json.dumps({"score":r[1],"name":r[2],"tags":["a","b"]})) for r in rows]
        q="select objectId, doc from t where json_extract(doc,'$.score') >= ? order by json_extract(doc,'$.score') desc limit 20"
        cnt="select count(*) from t where json_extract(doc,'$.score') < ?"
    else:
        db.execute("create table t(objectId text primary key, score real, name text, tags text)")
        db.execute("create index ix on t(score)")
        ins="insert into t values(?,?,?,?)"; data=[(r[0], r[1], r[2], '["a","b"]') for r in rows]
        q="select objectId, score, name, tags from t where score >= ? order by score desc limit 20"
        cnt="select count(*) from t where score < ?"
    t=time.perf_counter(); db.executemany(ins,data); db.commit(); res[(layout,"insert 100k (s)")]=round(time.perf_counter()-t,3)
    plan=db.execute("explain query plan "+q,(500,)).fetchall(); res[(layout,"plan")]=plan[-1][-1]
    t=time.perf_counter()
    for i in range(2000): db.execute(q,(random.randint(0,999),)).fetchall()
    res[(layout,"query us")]=round((time.perf_counter()-t)/2000*1e6,1)
    ids=[r[0] for r in random.sample(rows,2000)]
    t=time.perf_counter()
    for i in ids: db.execute("select * from t where objectId=?",(i,)).fetchone()
    res[(layout,"get us")]=round((time.perf_counter()-t)/2000*1e6,1)
    t=time.perf_counter()
    for i in range(200): db.execute(cnt,(random.randint(1,200),)).fetchone()
    res[(layout,"count us")]=round((time.perf_counter()-t)/200*1e6,1)
print(sqlite3.sqlite_version)
for k,v in res.items(): print(k,v)
