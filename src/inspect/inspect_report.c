/*
 * inspect_report.c - `infty-inspect report OUT -o page.html`: one
 * self-contained page (inline CSS, JS and SVG, nothing fetched) on a run
 * directory: the run's settings and totals, per-shard stats, the charts of
 * inspect_stats over every record, and a browsable list of traces (question,
 * segments with token counts and boundary kinds, summaries with flags and
 * scores, the instances as the model sees them) and of rejects.
 *
 * The page stays bounded on big runs: every trace is counted and charted,
 * but only a sample of unflagged traces (reservoir, seeded) and the first
 * flagged ones are embedded, and reject records are kept without the whole
 * trace a dead letter carries.  The page says how many of how many it shows.
 */
#include "inspect.h"

#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/jsonl.h"
#include "infty/stage.h"

#include <glob.h>
#include <json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void inspect_json_for_script(FILE *out, const char *json)
{
	for (const char *p = json; *p; p++) {
		if (*p == '<')
			fputs("\\u003c", out);
		else if (*p == '>')
			fputs("\\u003e", out);
		else if (*p == '&')
			fputs("\\u0026", out);
		else
			fputc(*p, out);
	}
}

struct kept {
	uint64_t index;
	struct json_object *rec;  /* owned reference */
	struct json_object *inst; /* owned: array of the trace's instances */
	const char *id;           /* borrowed from rec */
};

struct report {
	const struct inspect_report_opts *o;
	struct inspect_stats st;
	struct kept *flagged, *sample;
	size_t n_flagged, n_sample, cap_flagged;
	uint64_t traces, flagged_total, rng;
	struct json_object *rejects; /* array of trimmed reject records */
	uint64_t rejects_total;
	struct kept **by_id; /* kept traces sorted by id, for the instances pass */
	size_t n_by_id;
	uint64_t instances;
	char files_detail[256];
};

static struct json_object *get(struct json_object *o, const char *k)
{
	struct json_object *v;
	return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int rec_flagged(struct json_object *rec)
{
	struct json_object *sums = get(rec, "summaries");
	size_t n = json_object_is_type(sums, json_type_array) ? json_object_array_length(sums) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *f = get(json_object_array_get_idx(sums, i), "flags");
		if (json_object_is_type(f, json_type_array) && json_object_array_length(f))
			return 1;
	}
	return 0;
}

/* Sorted paths matching pattern (dir/relative), or none. */
static void glob_in(const char *dir, const char *rel, glob_t *g)
{
	char pat[4096];
	snprintf(pat, sizeof pat, "%s/%s", dir, rel);
	memset(g, 0, sizeof *g);
	if (glob(pat, 0, NULL, g)) {
		globfree(g);
		memset(g, 0, sizeof *g);
	}
}

typedef int (*rec_fn)(struct report *R, struct json_object *rec);

/* Every parsed record of the files; unreadable lines are skipped (validate finds them). */
static int each_file(struct report *R, glob_t *g, rec_fn fn)
{
	for (size_t i = 0; i < g->gl_pathc; i++) {
		struct infty_reader *r;
		if (infty_stage_open_input(&r, g->gl_pathv[i], INFTY_KIND_UNKNOWN, R->files_detail,
		                           sizeof R->files_detail))
			return -1;
		for (;;) {
			struct json_object *rec = NULL;
			uint64_t line = 0;
			int rc = infty_reader_next(r, &rec, &line);
			if (rc == 0)
				break;
			if (rc == INFTY_EJSON || rc == INFTY_EUTF8)
				continue;
			if (rc < 0) {
				const char *why = infty_reader_detail(r);
				snprintf(R->files_detail, sizeof R->files_detail, "%s: %s",
				         g->gl_pathv[i], *why ? why : infty_strerror(rc));
				infty_reader_free(r);
				return -1;
			}
			rc = fn(R, rec);
			json_object_put(rec);
			if (rc) {
				infty_reader_free(r);
				return rc;
			}
		}
		infty_reader_free(r);
	}
	return 0;
}

static int keep(struct kept *k, uint64_t index, struct json_object *rec)
{
	k->index = index;
	k->rec = json_object_get(rec);
	k->inst = json_object_new_array();
	k->id = inspect_record_id(rec);
	return k->inst ? 0 : INFTY_ENOMEM;
}

static void unkeep(struct kept *k)
{
	json_object_put(k->rec);
	json_object_put(k->inst);
	memset(k, 0, sizeof *k);
}

static int on_trace(struct report *R, struct json_object *rec)
{
	enum infty_kind kind = infty_record_kind(rec);
	if (inspect_stats_add(&R->st, rec))
		return INFTY_ENOMEM;
	if (kind != INFTY_KIND_SUMMARIZED && kind != INFTY_KIND_SEGMENT)
		return 0;
	uint64_t index = R->traces++;
	if (rec_flagged(rec)) {
		R->flagged_total++;
		if ((long)R->n_flagged >= R->o->max_flagged)
			return 0;
		if (infty_grow(&R->flagged, &R->cap_flagged, R->n_flagged + 1, sizeof *R->flagged))
			return INFTY_ENOMEM;
		return keep(&R->flagged[R->n_flagged++], index, rec);
	}
	/* Algorithm R over the unflagged traces: each is kept with chance k/seen. */
	uint64_t seen = index - R->flagged_total + 1;
	size_t k = (size_t)R->o->sample;
	if (R->n_sample < k)
		return keep(&R->sample[R->n_sample++], index, rec);
	uint64_t slot = splitmix64(&R->rng) % seen;
	if (slot < k) {
		unkeep(&R->sample[slot]);
		return keep(&R->sample[slot], index, rec);
	}
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	const struct kept *x = *(struct kept *const *)a, *y = *(struct kept *const *)b;
	return strcmp(x->id ? x->id : "", y->id ? y->id : "");
}

static int on_instance(struct report *R, struct json_object *rec)
{
	if (inspect_stats_add(&R->st, rec))
		return INFTY_ENOMEM;
	R->instances++;
	const char *id = inspect_record_id(rec);
	if (!id || !R->n_by_id)
		return 0;
	struct kept key = {.id = id}, *kp = &key;
	struct kept **hit = bsearch(&kp, R->by_id, R->n_by_id, sizeof *R->by_id, cmp_id);
	if (hit && json_object_array_add((*hit)->inst, json_object_get(rec)))
		return INFTY_ENOMEM;
	return 0;
}

/* A reject kept small: a dead letter's whole trace becomes its id, raw lines are clipped. */
static int on_reject(struct report *R, struct json_object *rec)
{
	if (infty_record_kind(rec) != INFTY_KIND_REJECT)
		return 0;
	if (inspect_stats_add(&R->st, rec))
		return INFTY_ENOMEM;
	R->rejects_total++;
	if ((long)json_object_array_length(R->rejects) >= R->o->max_rejects)
		return 0;
	struct json_object *o = json_object_new_object();
	if (!o)
		return INFTY_ENOMEM;
	json_object_object_foreach(rec, key, val)
	{
		struct json_object *v = NULL;
		const char *name = key;
		if (!strcmp(key, "record")) {
			const char *id = inspect_record_id(val);
			v = json_object_new_string(id ? id : "");
			name = "record_id";
		} else if (json_object_is_type(val, json_type_string) &&
		           json_object_get_string_len(val) > 2048) {
			/* Clip at a character boundary: never split a UTF-8 sequence. */
			const char *s = json_object_get_string(val);
			size_t n = 2048;
			while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
				n--;
			v = json_object_new_string_len(s, (int)n);
		} else {
			v = json_object_get(val);
		}
		if ((val && !v) || json_object_object_add(o, name, v)) {
			json_object_put(o);
			return INFTY_ENOMEM;
		}
	}
	return json_object_array_add(R->rejects, o) ? INFTY_ENOMEM : 0;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	char chunk[4096];
	size_t got;
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0 && n < (1u << 20)) {
		if (infty_grow(&buf, &cap, n + got + 1, 1)) {
			infty_free(buf);
			fclose(f);
			return NULL;
		}
		memcpy(buf + n, chunk, got);
		n += got;
	}
	fclose(f);
	if (buf)
		buf[n] = '\0';
	return buf;
}

static struct json_object *json_file(const char *dir, const char *rel)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	return json_object_from_file(path);
}

static const char *const stages[] = {"shard", "segment", "summarize", "build", "merge"};

/* Settings: run.json, params per stage, stats.json, per-shard stats (bounded). */
static int add_settings(struct json_object *root, const char *dir)
{
	struct json_object *params = json_object_new_object(), *shards = json_object_new_object();
	if (!params || !shards) {
		json_object_put(params);
		json_object_put(shards);
		return INFTY_ENOMEM;
	}
	json_object_object_add(root, "run", json_file(dir, "run.json"));
	json_object_object_add(root, "totals", json_file(dir, "stats.json"));
	for (size_t s = 0; s < sizeof stages / sizeof *stages; s++) {
		char rel[64], path[4096];
		snprintf(path, sizeof path, "%s/%s/params", dir, stages[s]);
		char *t = read_text(path);
		if (t) {
			json_object_object_add(params, stages[s], json_object_new_string(t));
			infty_free(t);
		}
		snprintf(rel, sizeof rel, "%s/stats/*.json", stages[s]);
		glob_t g;
		glob_in(dir, rel, &g);
		if (g.gl_pathc) {
			struct json_object *a = json_object_new_array(),
			                   *st = json_object_new_object();
			for (size_t k = 0; k < g.gl_pathc && k < 256; k++) {
				struct json_object *one = json_object_new_object();
				const char *base = strrchr(g.gl_pathv[k], '/');
				json_object_object_add(
				    one, "shard", json_object_new_string(base ? base + 1 : ""));
				json_object_object_add(one, "stats",
				                       json_object_from_file(g.gl_pathv[k]));
				json_object_array_add(a, one);
			}
			json_object_object_add(st, "files",
			                       json_object_new_int64((int64_t)g.gl_pathc));
			json_object_object_add(st, "shown", a);
			json_object_object_add(shards, stages[s], st);
		}
		globfree(&g);
	}
	json_object_object_add(root, "params", params);
	json_object_object_add(root, "shard_stats", shards);
	return 0;
}

static int cmp_index(const void *a, const void *b)
{
	uint64_t x = ((const struct kept *)a)->index, y = ((const struct kept *)b)->index;
	return (x > y) - (x < y);
}

static const char page_css[] =
    "body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#222}"
    "header{background:#223;color:#fff;padding:10px 20px}header h1{margin:0;font-size:18px}"
    "nav a{color:#cde;margin-right:14px}main{padding:10px 20px}"
    "h2{font-size:16px;margin:24px 0 8px;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:2px 8px;"
    "text-align:left;vertical-align:top;font-size:13px}th{background:#f3f3f3}"
    "pre{white-space:pre-wrap;word-wrap:break-word;background:#f8f8f8;padding:8px;"
    "margin:4px 0;border-left:3px solid #ccc;font-size:13px}"
    ".summary pre{border-left-color:#2a8;background:#f0fbf6}.flag{display:inline-block;"
    "background:#c33;color:#fff;border-radius:3px;padding:0 6px;margin-right:4px;font-size:12px}"
    ".meta{color:#666;font-size:12px}#list{max-height:70vh;overflow:auto;border:1px solid #ddd;"
    "width:28em;float:left;margin-right:16px}#list div{padding:3px 6px;cursor:pointer;"
    "border-bottom:1px solid #eee;font-size:13px}#list div:hover{background:#eef}"
    "#view{overflow:auto}.series{display:inline-block;vertical-align:top;margin-right:12px}"
    ".series h3{font-size:13px;margin:8px 0 0}.series p{margin:2px 0;font-size:12px;color:#555}"
    ".clear{clear:both}input,select{margin:4px 8px 4px 0}";

/* The page's script: renders settings and lists from #data, routes #trace=ID. */
static const char page_js[] =
    "'use strict';\n"
    "const D=JSON.parse(document.getElementById('data').textContent);\n"
    "function el(tag,cls,text){const e=document.createElement(tag);if(cls)e.className=cls;"
    "if(text!==undefined&&text!==null)e.textContent=String(text);return e;}\n"
    "function kv(obj){const t=el('table');for(const k of Object.keys(obj||{})){"
    "const r=el('tr');r.appendChild(el('th',null,k));const v=obj[k];"
    "r.appendChild(el('td',null,typeof v==='object'?JSON.stringify(v):v));t.appendChild(r);}"
    "return t;}\n"
    "function flat(o,p,out){for(const k of Object.keys(o||{})){const v=o[k];"
    "if(v&&typeof v==='object'&&!Array.isArray(v))flat(v,p+k+'.',out);"
    "else if(typeof v!=='object')out[p+k]=v;}return out;}\n"
    "function settings(){const s=document.getElementById('settings');"
    "s.appendChild(el('h3',null,'run.json'));s.appendChild(D.run?kv(D.run):el('p',null,'none'));"
    "s.appendChild(el('h3',null,'stats.json (totals)'));"
    "s.appendChild(D.totals?kv(D.totals):el('p',null,'none'));"
    "s.appendChild(el('h3',null,'params'));for(const k of Object.keys(D.params||{})){"
    "s.appendChild(el('div','meta',k));s.appendChild(el('pre','params',D.params[k]));}"
    "const sh=document.getElementById('shards');for(const st of Object.keys(D.shard_stats||{})){"
    "const x=D.shard_stats[st];sh.appendChild(el('h3',null,st+': '+x.files+' shard stats files'"
    "+(x.files>x.shown.length?', first '+x.shown.length+' shown':'')));"
    "const rows=x.shown.map(r=>flat(r.stats,'',{}));const cols=[];"
    "for(const r of rows)for(const c of Object.keys(r))if(!cols.includes(c)&&cols.length<24)"
    "cols.push(c);const t=el('table','shardtab');const h=el('tr');h.appendChild(el('th',null,"
    "'shard'));for(const c of cols)h.appendChild(el('th',null,c));t.appendChild(h);"
    "x.shown.forEach((r,i)=>{const tr=el('tr');tr.appendChild(el('td',null,r.shard));"
    "for(const c of cols)tr.appendChild(el('td',null,rows[i][c]));t.appendChild(tr);});"
    "sh.appendChild(t);}}\n"
    "function flagsOf(t){const f=new Set();for(const s of t.summaries||[])"
    "for(const x of s.flags||[])f.add(x);return[...f];}\n"
    "function list(){const L=document.getElementById('list');L.textContent='';"
    "const q=document.getElementById('search').value.toLowerCase();"
    "const f=document.getElementById('flag').value;let n=0;"
    "for(const t of D.traces){const fl=flagsOf(t);if(q&&!String(t.id).toLowerCase()"
    ".includes(q))continue;if(f==='flagged'&&!fl.length)continue;"
    "if(f&&f!=='flagged'&&!fl.includes(f))continue;const d=el('div','item');"
    "d.appendChild(el('span',null,t.id+' '));for(const x of fl)d.appendChild(el('span','flag',x));"
    "d.onclick=()=>{location.hash='trace='+encodeURIComponent(t.id);};L.appendChild(d);n++;}"
    "document.getElementById('count').textContent=n+' listed';}\n"
    "function show(t){const V=document.getElementById('view');V.textContent='';"
    "V.appendChild(el('h2','trace-id',t.id));const src=t.source||{};"
    "V.appendChild(el('div','meta',(src.file||'')+(src.line?':'+src.line:'')+' n='+t.n+"
    "' reasoning_tokens='+t.reasoning_tokens));V.appendChild(el('h3',null,'Question'));"
    "V.appendChild(el('pre','question',t.question));const segs=t.segments||[];"
    "segs.forEach((s,i)=>{const d=el('div','segment');d.appendChild(el('h3',null,'Segment '+"
    "(i+1)+'/'+segs.length+': '+s.tokens+' tokens, ended at '+s.end+', separator '+"
    "JSON.stringify(s.sep)));d.appendChild(el('pre','segtext',s.text));V.appendChild(d);"
    "const S=(t.summaries||[])[i];if(S){const b=el('div','summary');b.appendChild(el('h3',null,"
    "'Summary S'+(i+1)+(S.model?' ('+S.model+')':'')));for(const x of S.flags||[])"
    "b.appendChild(el('span','flag',x));if(S.quality)b.appendChild(el('div','meta quality',"
    "'quality: '+JSON.stringify(S.quality)));if(S.judge)b.appendChild(el('div','meta judge',"
    "'judge: '+JSON.stringify(S.judge)));b.appendChild(el('pre','sumtext',S.text));"
    "V.appendChild(b);}});V.appendChild(el('h3',null,'Conclusion'));"
    "V.appendChild(el('pre','conclusion',t.conclusion));const I=D.instances[t.id]||[];"
    "V.appendChild(el('h2',null,'Instances as the model sees them ('+I.length+')'));"
    "for(const x of I){const d=el('div','instance');const m=x.meta||{};"
    "d.appendChild(el('h3',null,'iteration '+m.iteration+'/'+m.n+': prompt '+m.prompt_tokens+"
    "' tokens, target '+m.target_tokens+' tokens'));if(x.input!==undefined){"
    "d.appendChild(el('div','meta','input (not trained)'));d.appendChild(el('pre',null,x.input));"
    "d.appendChild(el('div','meta','target (trained)'));d.appendChild(el('pre',null,x.target));}"
    "else for(const msg of x.messages||[]){d.appendChild(el('div','meta',msg.role+"
    "(msg.role==='assistant'?' (trained)':' (not trained)')));"
    "d.appendChild(el('pre',null,msg.content));}V.appendChild(d);}}\n"
    "function rejects(){const V=document.getElementById('view');V.textContent='';"
    "V.appendChild(el('h2',null,'Rejects: '+D.rejects.length+' shown of '+D.rejects_total));"
    "const t=el('table','rejects');const h=el('tr');for(const c of['stage','reason','detail',"
    "'id','where'])h.appendChild(el('th',null,c));t.appendChild(h);for(const r of D.rejects){"
    "const tr=el('tr','reject');for(const v of[r.stage,r.reason,r.detail,r.id||r.record_id,"
    "(r.file||'')+':'+(r.line||'')])tr.appendChild(el('td',null,v));t.appendChild(tr);}"
    "V.appendChild(t);}\n"
    "function route(){const h=decodeURIComponent(location.hash.slice(1));"
    "if(h==='rejects'){rejects();return;}if(h.startsWith('trace=')){const id=h.slice(6);"
    "const t=D.traces.find(x=>x.id===id);if(t){show(t);return;}"
    "document.getElementById('view').textContent='trace '+id+' is not in this page';return;}"
    "document.getElementById('view').textContent='Pick a trace on the left.';}\n"
    "settings();const F=document.getElementById('flag');const all=new Set();"
    "for(const t of D.traces)for(const x of flagsOf(t))all.add(x);"
    "for(const x of[...all].sort()){const o=el('option',null,x);o.value=x;F.appendChild(o);}"
    "document.getElementById('search').oninput=list;F.onchange=list;list();"
    "window.onhashchange=route;route();document.body.dataset.ready='1';\n";

static void write_page(struct report *R, const char *dir, struct json_object *root, FILE *out)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<title>infty report: ",
	      out);
	inspect_html_escape(out, dir);
	fprintf(out,
	        "</title>\n<style>%s</style></head><body>\n<header><h1>infty report: ", page_css);
	inspect_html_escape(out, dir);
	fputs("</h1><nav><a href=\"#\">traces</a><a href=\"#rejects\">rejects</a>"
	      "<a href=\"#settings-h\">settings</a><a href=\"#charts\">charts</a></nav></header>\n"
	      "<main>\n",
	      out);
	fprintf(out,
	        "<p id=\"totals\">%llu traces read (%llu with a flagged summary), %llu "
	        "instances, %llu rejects. This page holds %zu traces: all %zu flagged ones "
	        "kept%s and %zu drawn at random from the others (seed %llu).</p>\n",
	        (unsigned long long)R->traces, (unsigned long long)R->flagged_total,
	        (unsigned long long)R->instances, (unsigned long long)R->rejects_total,
	        R->n_flagged + R->n_sample, R->n_flagged,
	        R->flagged_total > R->n_flagged ? " (the first ones: cap reached)" : "",
	        R->n_sample, (unsigned long long)R->o->seed);
	inspect_stats_labels(&R->st, out);
	fputs("<h2>Traces</h2>\n<div><input id=\"search\" placeholder=\"search by id\">"
	      "<select id=\"flag\"><option value=\"\">all traces</option>"
	      "<option value=\"flagged\">any flag</option></select><span id=\"count\"></span>"
	      "</div>\n<div id=\"list\"></div><div id=\"view\"></div><div class=\"clear\"></div>\n"
	      "<h2 id=\"charts\">Charts (every record read)</h2>\n",
	      out);
	inspect_stats_charts(&R->st, out);
	fputs("<h2 id=\"settings-h\">Run settings</h2><div id=\"settings\"></div>\n"
	      "<h2>Per-shard stats</h2><div id=\"shards\"></div>\n</main>\n"
	      "<script type=\"application/json\" id=\"data\">",
	      out);
	inspect_json_for_script(out,
	                        json_object_to_json_string_ext(
	                            root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	fprintf(out, "</script>\n<script>%s</script>\n</body></html>\n", page_js);
}

int inspect_report(const char *dir, const struct inspect_report_opts *o, FILE *out, char *detail,
                   size_t dlen)
{
	struct stat sb;
	if (stat(dir, &sb) || !S_ISDIR(sb.st_mode)) {
		snprintf(detail, dlen, "not a run directory");
		return 1;
	}
	struct report R = {.o = o, .rng = o->seed};
	inspect_stats_init(&R.st);
	R.sample = infty_calloc(o->sample > 0 ? (size_t)o->sample : 1, sizeof *R.sample);
	R.rejects = json_object_new_array();
	struct json_object *root = json_object_new_object(), *traces = json_object_new_array(),
	                   *inst = json_object_new_object();
	int rc = R.sample && R.rejects && root && traces && inst ? 0 : INFTY_ENOMEM;
	glob_t g;
	/* Traces: summarized records, else segment records (a run stopped early). */
	glob_in(dir, "summarize/out/*.jsonl*", &g);
	if (!g.gl_pathc) {
		globfree(&g);
		glob_in(dir, "segment/out/*.jsonl*", &g);
	}
	if (!g.gl_pathc) {
		snprintf(detail, dlen, "no summarize/out/*.jsonl* or segment/out/*.jsonl* files");
		rc = 1;
	}
	if (!rc)
		rc = each_file(&R, &g, on_trace);
	globfree(&g);
	/* The instances of the kept traces, found by id. */
	size_t nk = R.n_flagged + R.n_sample;
	if (!rc && nk && !(R.by_id = infty_calloc(nk, sizeof *R.by_id)))
		rc = INFTY_ENOMEM;
	if (!rc) {
		for (size_t k = 0; k < R.n_flagged; k++)
			if (R.flagged[k].id)
				R.by_id[R.n_by_id++] = &R.flagged[k];
		for (size_t k = 0; k < R.n_sample; k++)
			if (R.sample[k].id)
				R.by_id[R.n_by_id++] = &R.sample[k];
		qsort(R.by_id, R.n_by_id, sizeof *R.by_id, cmp_id);
		glob_in(dir, "build/out/*.jsonl*", &g);
		rc = each_file(&R, &g, on_instance);
		globfree(&g);
	}
	/* Rejects: the merged file when the run got that far, else each stage's. */
	if (!rc) {
		glob_in(dir, "rejects.jsonl*", &g);
		if (!g.gl_pathc) {
			globfree(&g);
			glob_in(dir, "*/failed/*.jsonl*", &g);
		}
		rc = each_file(&R, &g, on_reject);
		globfree(&g);
	}
	if (!rc)
		rc = add_settings(root, dir);
	if (!rc) {
		/* Flagged first, then the sample, each in input order. */
		qsort(R.flagged, R.n_flagged, sizeof *R.flagged, cmp_index);
		qsort(R.sample, R.n_sample, sizeof *R.sample, cmp_index);
		struct kept *lists[2] = {R.flagged, R.sample};
		size_t lens[2] = {R.n_flagged, R.n_sample};
		for (int l = 0; l < 2; l++)
			for (size_t k = 0; k < lens[l]; k++) {
				json_object_array_add(traces, json_object_get(lists[l][k].rec));
				if (lists[l][k].id)
					json_object_object_add(inst, lists[l][k].id,
					                       json_object_get(lists[l][k].inst));
			}
		json_object_object_add(root, "traces", traces);
		json_object_object_add(root, "instances", inst);
		json_object_object_add(root, "traces_total",
		                       json_object_new_int64((int64_t)R.traces));
		json_object_object_add(root, "flagged_total",
		                       json_object_new_int64((int64_t)R.flagged_total));
		json_object_object_add(root, "rejects", json_object_get(R.rejects));
		json_object_object_add(root, "rejects_total",
		                       json_object_new_int64((int64_t)R.rejects_total));
		traces = inst = NULL;
		write_page(&R, dir, root, out);
	}
	if (rc < 0)
		snprintf(detail, dlen, "%s", *R.files_detail ? R.files_detail : infty_strerror(rc));
	json_object_put(traces);
	json_object_put(inst);
	json_object_put(root);
	json_object_put(R.rejects);
	for (size_t k = 0; k < R.n_flagged; k++)
		unkeep(&R.flagged[k]);
	for (size_t k = 0; k < R.n_sample; k++)
		unkeep(&R.sample[k]);
	infty_free(R.flagged);
	infty_free(R.sample);
	infty_free(R.by_id);
	inspect_stats_release(&R.st);
	return rc ? 1 : 0;
}
