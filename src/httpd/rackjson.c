/*
 * rackjson.c - the JSON of GET /rack/R written straight into one buffer.
 *
 * A rack holds up to 1024 x 1024 cells.  Built with json-c, one object
 * per cell cost about 1.6 KB (434 MB for one request on a rack of 262,144
 * cells, then the string, then its copy).  Here the rack head and the
 * module aggregates still come from views.c (a few hundred bytes per
 * module, at most 1024 modules), and the cells are printed directly, in
 * the form of view_cell_fields() and view_number(): the answer is byte for
 * byte what json-c gives for view_rack() (tests/unit/test_rackjson.c
 * checks it).  The buffer is reserved once at an upper bound of the
 * answer; pages never written are never resident, so a request needs its
 * answer plus the copy of the cells (20 bytes a cell), about 1.2 times
 * the answer (batsim-httpd(8), "Memory").
 */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "httpd.h"
#include "views.h"

/* Longest cell object: 60 bytes of keys and punctuation with its comma,
 * and five numbers of at most 13 characters ("-1.234567e-38"; a float has
 * a two-digit exponent) or "null". */
#define CELL_MAX 128
/* ,"soh":N,"hysteresis":N */
#define CELL_EXT_MAX 64

/* view_number(v, 7) as json-c prints it: "%.7g", "-0" as "0", null when
 * not finite.  Needs 16 bytes of room. */
static size_t put_num(char *p, double v)
{
	int n;

	if (!isfinite(v)) {
		memcpy(p, "null", 4);
		return 4;
	}
	n = snprintf(p, 16, "%.7g", v);
	if (n == 2 && p[0] == '-' && p[1] == '0') {
		p[0] = '0';
		return 1;
	}
	return (size_t)n;
}

#define PUT(lit)                                                               \
	do {                                                                   \
		memcpy(p, lit, sizeof lit - 1);                                \
		p += sizeof lit - 1;                                           \
	} while (0)

/* The cells of one module as a JSON array, into b (room reserved). */
static void put_cells(struct buf *b, const struct bs_cell *c,
		      const struct bs_cell_ext *x, uint32_t n)
{
	char *p = b->p + b->len;

	*p++ = '[';
	for (uint32_t i = 0; i < n; i++, c++) {
		if (i)
			*p++ = ',';
		/* view_cell_fields(): the same keys in the same order */
		PUT("{\"voltage\":");
		p += put_num(p, c->voltage);
		PUT(",\"current\":");
		p += put_num(p, c->current);
		PUT(",\"temperature\":");
		p += put_num(p, c->temperature);
		PUT(",\"soc\":");
		p += put_num(p, c->soc * 100.0f);
		PUT(",\"resistance\":");
		p += put_num(p, c->resistance);
		/* view_cell_ext(): only when the writer published a SoH */
		if (x && x[i].soh > 0.0f) {
			PUT(",\"soh\":");
			p += put_num(p, x[i].soh * 100.0f);
			PUT(",\"hysteresis\":");
			p += put_num(p, x[i].hysteresis);
		}
		*p++ = '}';
	}
	*p++ = ']';
	*p = '\0';
	b->len = (size_t)(p - b->p);
}

/* s without its closing '}' (s is a JSON object). */
static void put_open(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	buf_append(b, s, n ? n - 1 : 0);
}

int hd_rack_json(const struct bs_geometry *h, const struct bs_meta *m,
		 uint32_t rack, const struct bs_rack *rec,
		 const struct bs_module *mods, const struct bs_cell *cells,
		 const struct bs_module_ext *mx, const struct bs_cell_ext *cx,
		 struct buf *out)
{
	const uint32_t n_mod = h->modules_per_rack, cpm = h->cells_per_module;
	json_object *o, *arr = NULL;
	size_t need;
	int rc = -BS_ENOMEM;

	/* The head (rack summary, tick, time) and the module aggregates,
	 * without cells; "modules" is the head's last member. */
	o = view_rack(h, m, rack, rec, mods, NULL, 0);
	if (!o || !json_object_object_get_ex(o, "modules", &arr) ||
	    (size_t)json_object_array_length(arr) != n_mod)
		goto out;
	json_object_get(arr);
	json_object_object_del(o, "modules");
	if (mx) /* the few module objects take their SoH as in views.c */
		for (uint32_t i = 0; i < n_mod; i++)
			view_module_ext(json_object_array_get_idx(arr, i),
					&mx[i]);

	need = strlen(view_to_string(o)) + 64;
	for (uint32_t i = 0; i < n_mod; i++)
		need += strlen(view_to_string(json_object_array_get_idx(arr, i))) +
			16;
	if (cells)
		need += (size_t)n_mod * cpm * (CELL_MAX + (cx ? CELL_EXT_MAX : 0));
	if (buf_reserve(out, need))
		goto out;

	put_open(out, view_to_string(o));
	buf_puts(out, ",\"modules\":[");
	for (uint32_t i = 0; i < n_mod; i++) {
		if (i)
			buf_append(out, ",", 1);
		put_open(out, view_to_string(json_object_array_get_idx(arr, i)));
		if (cells) {
			buf_puts(out, ",\"cells\":");
			put_cells(out, cells + (size_t)i * cpm,
				  cx ? cx + (size_t)i * cpm : NULL, cpm);
		}
		buf_append(out, "}", 1);
	}
	buf_puts(out, "]}");
	rc = out->oom ? -BS_ENOMEM : 0;
out:
	json_object_put(arr);
	json_object_put(o);
	return rc;
}
