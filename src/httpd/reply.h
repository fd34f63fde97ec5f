/*
 * reply.h - answers, JSON errors, query arguments and the cached summary
 * of batsim-httpd (reply.c), shared by every module.
 */
#ifndef BATSIM_HTTPD_REPLY_H
#define BATSIM_HTTPD_REPLY_H

#include "httpd.h"

/* Queue a response; hd_json consumes obj. */
enum MHD_Result hd_json(struct MHD_Connection *c, unsigned status,
			json_object *obj);
/* hd_json with one more response header (e.g. Allow). */
enum MHD_Result hd_json_header(struct MHD_Connection *c, unsigned status,
			       json_object *obj, const char *header,
			       const char *value);
/* Replace every byte of s[0..n) that is not part of valid UTF-8 by '?'. */
void hd_utf8_scrub(char *s, size_t n);
enum MHD_Result hd_error(struct MHD_Connection *c, unsigned status,
			 const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The body of every error answer: {"error": msg, "status": status}. */
json_object *hd_error_obj(unsigned status, const char *msg);
/* 405 with the Allow header (allow: "GET, HEAD" or "POST"). */
enum MHD_Result hd_method_not_allowed(struct MHD_Connection *c,
				      const char *method, const char *url,
				      const char *allow);
/* 503 for a segment that is not live: {"error","status","stale"}. */
enum MHD_Result hd_unavailable(struct MHD_Connection *c, enum src_state st,
			       const char *why);
enum MHD_Result hd_text(struct MHD_Connection *c, unsigned status,
			const char *ctype, char *text, size_t len);

/* Summary JSON of the newest snapshot into out (cached per tick), with
 * module aggregates in every rack when modules is not 0.  0, or a
 * negative BS_E* code. */
/* The site name to show, into buf: the one the writer published in the
 * segment (r may be NULL), else, when none is published (no writer yet,
 * an older one), this server's site_name from batsim.conf. */
const char *hd_site_name(const bs_reader *r, char *buf, size_t len);
/* The "limits" object of /summary: this server's configuration, with
 * the writer's chemistry and whether it matches. */
json_object *hd_summary_limits(bs_reader *r);
int hd_summary_json(bs_reader *r, struct buf *out, struct bs_meta *meta,
		    int modules);

/* A boolean query argument: NULL -> 0; "0"/"false" -> 0, "1"/"true" -> 1;
 * -1 for anything else. */
int hd_parse_flag(const char *s, int *out);

/* Parse a decimal index "0".."4294967295"; 0 or -1. */
int hd_parse_u32(const char *s, uint32_t *out);

#endif /* BATSIM_HTTPD_REPLY_H */
