/*
 * req.c - one Modbus TCP request in, one answer out.
 *
 * Order of the rules (batsim-modbusd(8), EXCEPTIONS):
 *   protocol faults drop / silence      close the connection / no answer
 *   function not 03, 06 or 16            01 illegal function
 *   no segment or no snapshot            04 server device failure
 *   unit id without a unit               0B gateway target failed to respond
 *   quantity 0 or too large, bad count   03 illegal data value
 *   address outside the unit's map       02 illegal data address
 *   writes off, or peer not allowed      01 illegal function
 *   write to a read-only register, to a
 *   point batsim does not take, to part
 *   of a multi-register point, or to a
 *   point an exception fault names       02 illegal data address
 *   value out of range                   03 illegal data value
 *   writer stale or stopped (writes)     04 server device failure
 *   batsimd refused or unreachable       04 server device failure
 * A delay fault delays whatever answer results.
 */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "modbusd.h"

#define MAX_READ 125u
#define MAX_WRITE 123u

static unsigned be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

void req_exception_adu(const uint8_t *adu, int exc, struct mb_result *out)
{
	memcpy(out->rsp, adu, 4);  /* transaction and protocol id */
	out->rsp[4] = 0;
	out->rsp[5] = 3;           /* unit + function + code */
	out->rsp[6] = adu[6];
	out->rsp[7] = (uint8_t)(adu[7] | 0x80);
	out->rsp[8] = (uint8_t)exc;
	out->rsp_len = 9;
}

static void exception(struct mb_result *out, int exc)
{
	out->kind = MB_ANS_EXCEPTION;
	out->exc = exc;
}

/* A writable point batsim takes, with its value checks; 0 ok, else the
 * exception. */
struct wr {
	const struct sp_point *p;
	const struct mb_block *b;
	int inst;         /* repeating instance (803 string), -1 none */
	int64_t v;
};

static int supported(const struct mb_block *b, const struct sp_point *p)
{
	static const char *const ok[][2] = {
	    {"704", "WSetEna"},	     {"704", "WSetMod"},
	    {"704", "WSet"},	     {"704", "WSetRvrt"},
	    {"704", "WSetPct"},	     {"704", "WSetPctRvrt"},
	    {"704", "WSetEnaRvrt"},  {"704", "WSetRvrtTms"},
	    {"124", "WChaMax"},	     {"124", "WChaGra"},
	    {"124", "WDisChaGra"},   {"124", "StorCtl_Mod"},
	    {"124", "OutWRte"},	     {"124", "InWRte"},
	    {"124", "InOutWRte_WinTms"}, {"124", "InOutWRte_RvrtTms"},
	    {"124", "InOutWRte_RmpTms"}, {"802", "SocRsvMax"},
	    {"802", "SoCRsvMin"},    {"802", "CtrlHb"},
	    {"802", "AlmRst"},	     {"802", "SetOp"},
	    {"802", "SetInvState"},  {"803", "StrSetEna"},
	    {"803", "StrSetCon"},    {"804", "SetEna"},
	    {"804", "SetCon"},
	};
	char m[8];

	snprintf(m, sizeof m, "%u", b->model);
	for (unsigned i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (!strcmp(ok[i][0], m) && !strcmp(ok[i][1], p->name))
			return 1;
	return 0;
}

static int check_value(const struct wr *w)
{
	const char *n = w->p->name;
	int64_t v = w->v;

	switch (w->b->model) {
	case 704:
		if (!strcmp(n, "WSetEna") || !strcmp(n, "WSetEnaRvrt") ||
		    !strcmp(n, "WSetMod"))
			return v == 0 || v == 1 ? 0 : MB_EX_ILLEGAL_VALUE;
		if (!strcmp(n, "WSet") || !strcmp(n, "WSetRvrt")) {
			const struct mb_geom *g = dev_geom();
			double lim = g ? fmax(g->w_dis_rtg, g->w_cha_rtg) * 4 : 0;

			return (double)llabs(v) <= lim ? 0 : MB_EX_ILLEGAL_VALUE;
		}
		if (!strcmp(n, "WSetPct") || !strcmp(n, "WSetPctRvrt")) {
			const struct mb_geom *g = dev_geom();
			double pct = g ? v * pow(10.0, g->sf.pct) : 1e9;

			return fabs(pct) <= 100.0 ? 0 : MB_EX_ILLEGAL_VALUE;
		}
		if (!strcmp(n, "WSetRvrtTms"))
			return v <= 86400 ? 0 : MB_EX_ILLEGAL_VALUE;
		break;
	case 124:
		if (!strcmp(n, "StorCtl_Mod"))
			return v <= 3 ? 0 : MB_EX_ILLEGAL_VALUE;
		if (!strcmp(n, "InWRte") || !strcmp(n, "OutWRte")) {
			const struct mb_geom *g = dev_geom();
			double pct = g ? v * pow(10.0, g->sf.pct) : 1e9;

			return fabs(pct) <= 100.0 ? 0 : MB_EX_ILLEGAL_VALUE;
		}
		if (!strcmp(n, "WChaMax")) {
			const struct mb_geom *g = dev_geom();

			return g && v * pow(10.0, g->sf.w_rtg) <= g->w_cha_rtg * 1.0001
				   ? 0
				   : MB_EX_ILLEGAL_VALUE;
		}
		if (!strcmp(n, "WChaGra") || !strcmp(n, "WDisChaGra"))
			return v <= 100 ? 0 : MB_EX_ILLEGAL_VALUE;
		if (!strcmp(n, "InOutWRte_RvrtTms") ||
		    !strcmp(n, "InOutWRte_WinTms") ||
		    !strcmp(n, "InOutWRte_RmpTms"))
			return v <= 86400 ? 0 : MB_EX_ILLEGAL_VALUE;
		break;
	case 802:
		if (!strcmp(n, "SocRsvMax") || !strcmp(n, "SoCRsvMin")) {
			const struct mb_geom *g = dev_geom();
			double pct = g ? v * pow(10.0, g->sf.soc) : 1e9;

			return pct <= 100.0 ? 0 : MB_EX_ILLEGAL_VALUE;
		}
		if (!strcmp(n, "AlmRst"))
			return v <= 1 ? 0 : MB_EX_ILLEGAL_VALUE;
		if (!strcmp(n, "SetOp"))
			return v == 1 || v == 2 ? 0 : MB_EX_ILLEGAL_VALUE;
		if (!strcmp(n, "SetInvState"))
			return v >= 1 && v <= 3 ? 0 : MB_EX_ILLEGAL_VALUE;
		return 0; /* CtrlHb: any value */
	case 803:
	case 804:
		return v == 1 || v == 2 ? 0 : MB_EX_ILLEGAL_VALUE;
	}
	return 0;
}

static int cmd(const char *json)
{
	char err[512];

	if (dev_command(json, err, sizeof err)) {
		log_warn("Modbus write: %s", err);
		return MB_EX_DEVICE_FAILURE;
	}
	return 0;
}

static int contactor(int open, long rack)
{
	char c[96];

	if (rack < 0)
		snprintf(c, sizeof c, "{\"cmd\":\"contactor\",\"action\":\"%s\"}",
			 open ? "open" : "close");
	else
		snprintf(c, sizeof c,
			 "{\"cmd\":\"contactor\",\"action\":\"%s\",\"rack\":%ld}",
			 open ? "open" : "close", rack);
	return cmd(c);
}

/* Apply validated writes; 0 or an exception code. */
static int apply(const struct wr *w, unsigned n, unsigned unit)
{
	struct mb_state *st = dev_state();
	const struct mb_geom *g = dev_geom();
	int wset = 0, rates = 0, reserve = 0, rc = 0;
	double rsv_min = -1, rsv_max = -1;

	for (unsigned i = 0; i < n; i++) {
		const char *p = w[i].p->name;
		int64_t v = w[i].v;

		switch (w[i].b->model) {
		case 704:
			if (!strcmp(p, "WSetEna"))
				st->wset_ena = (uint16_t)v, wset = 1;
			else if (!strcmp(p, "WSetMod"))
				st->wset_mod = (uint16_t)v, wset = 1;
			else if (!strcmp(p, "WSet"))
				st->wset = (int32_t)v, wset = 1;
			else if (!strcmp(p, "WSetPct"))
				st->wset_pct = (int16_t)v, wset = 1;
			else if (!strcmp(p, "WSetRvrt"))
				st->wset_rvrt = (int32_t)v;
			else if (!strcmp(p, "WSetPctRvrt"))
				st->wset_pct_rvrt = (int16_t)v;
			else if (!strcmp(p, "WSetEnaRvrt"))
				st->wset_ena_rvrt = (uint16_t)v;
			else if (!strcmp(p, "WSetRvrtTms")) {
				st->wset_rvrt_tms = (uint32_t)v;
				/* a new timeout starts counting now */
				st->wset_rvrt_at_ns =
				    v ? dev_now_ns() + v * 1000000000 : 0;
			}
			break;
		case 124:
			if (!strcmp(p, "WChaMax"))
				st->wcha_max = (uint16_t)v, rates = 1;
			else if (!strcmp(p, "WChaGra"))
				st->wcha_gra = (uint16_t)v;
			else if (!strcmp(p, "WDisChaGra"))
				st->wdischa_gra = (uint16_t)v;
			else if (!strcmp(p, "StorCtl_Mod"))
				st->storctl_mod = (uint16_t)v, rates = 1;
			else if (!strcmp(p, "OutWRte"))
				st->out_wrte = (int16_t)v, rates = 1;
			else if (!strcmp(p, "InWRte"))
				st->in_wrte = (int16_t)v, rates = 1;
			else if (!strcmp(p, "InOutWRte_WinTms"))
				st->win_tms = (uint16_t)v;
			else if (!strcmp(p, "InOutWRte_RvrtTms"))
				st->rvrt_tms = (uint16_t)v;
			else if (!strcmp(p, "InOutWRte_RmpTms"))
				st->rmp_tms = (uint16_t)v;
			break;
		case 802:
			if (!strcmp(p, "SocRsvMax"))
				rsv_max = v * pow(10.0, g->sf.soc) / 100.0,
				reserve = 1;
			else if (!strcmp(p, "SoCRsvMin"))
				rsv_min = v * pow(10.0, g->sf.soc) / 100.0,
				reserve = 1;
			else if (!strcmp(p, "CtrlHb"))
				st->ctrl_hb = (uint16_t)v;
			else if (!strcmp(p, "SetInvState"))
				st->set_inv_state = (uint16_t)v;
			else if (!strcmp(p, "AlmRst") && v == 1)
				rc = cmd("{\"cmd\":\"alarms_reset\"}");
			else if (!strcmp(p, "SetOp"))
				rc = contactor(v == 2, -1);
			break;
		case 803:
			/* StrSetCon and StrSetEna both switch the string */
			rc = contactor(v == 2, w[i].inst);
			break;
		case 804:
			rc = contactor(v == 2, (long)(unit - MB_FIRST_RACK_UNIT));
			break;
		}
		if (rc)
			return rc;
	}
	if (reserve) {
		struct mb_site_ext ext;
		char c[128];

		/* the half of the window not written keeps its value */
		dev_site_ext(&ext);
		if (rsv_min < 0)
			rsv_min = ext.soc_reserve_min;
		if (rsv_max < 0)
			rsv_max = ext.soc_reserve_max;
		if (!(rsv_min < rsv_max))
			return MB_EX_ILLEGAL_VALUE;
		snprintf(c, sizeof c,
			 "{\"cmd\":\"soc_reserve\",\"min\":%.4f,\"max\":%.4f}",
			 rsv_min, rsv_max);
		rc = cmd(c);
		if (rc)
			return rc;
	}
	if (wset && dev_apply_wset(1))
		return MB_EX_DEVICE_FAILURE;
	if (rates && dev_apply_rates(1))
		return MB_EX_DEVICE_FAILURE;
	return 0;
}

static void reply_read(const uint8_t *adu, const uint16_t *img, unsigned off,
		       unsigned qty, struct mb_result *out)
{
	unsigned n = 2 * qty;

	memcpy(out->rsp, adu, 4);
	out->rsp[4] = (uint8_t)((n + 3) >> 8);
	out->rsp[5] = (uint8_t)((n + 3) & 0xFF);
	out->rsp[6] = adu[6];
	out->rsp[7] = adu[7];
	out->rsp[8] = (uint8_t)n;
	for (unsigned i = 0; i < qty; i++) {
		out->rsp[9 + 2 * i] = (uint8_t)(img[off + i] >> 8);
		out->rsp[10 + 2 * i] = (uint8_t)(img[off + i] & 0xFF);
	}
	out->rsp_len = 9 + (int)n;
	out->kind = MB_ANS_REPLY;
}

static void reply_echo(const uint8_t *adu, struct mb_result *out)
{
	/* 06 echoes the request; 16 answers address and quantity: both
	 * are the first 12 bytes of the request with length 6 */
	memcpy(out->rsp, adu, 12);
	out->rsp[4] = 0;
	out->rsp[5] = 6;
	out->rsp_len = 12;
	out->kind = MB_ANS_REPLY;
}

static void do_write(const uint8_t *adu, unsigned unit, unsigned addr,
		     unsigned qty, const uint8_t *vals, const uint16_t *img,
		     const struct mb_unit *lay, enum mb_data data,
		     const struct mb_peer *peer, struct mb_result *out)
{
	struct wr w[MAX_WRITE];
	uint16_t regs[MAX_WRITE];
	unsigned n = 0, off = addr - MB_BASE;
	int ex;

	if (!peer->can_write) {
		exception(out, MB_EX_ILLEGAL_FUNCTION);
		return;
	}
	for (unsigned i = 0; i < qty; i++)
		regs[i] = (uint16_t)be16(vals + 2 * i);
	for (unsigned i = 0; i < qty;) {
		unsigned start;
		int inst;
		const struct mb_block *b;
		const struct sp_point *p =
		    map_locate(lay, off + i, &start, &inst, &b);

		if (!p || !p->rw || !supported(b, p) || start != off + i ||
		    i + p->size > qty ||
		    faults_point(dev_faults(), unit, b->model, p->name,
				 dev_wall_ns())) {
			exception(out, MB_EX_ILLEGAL_ADDRESS);
			return;
		}
		{
			uint16_t tmp[4] = {0};
			struct sp_point q = *p;

			q.offset = 0;
			memcpy(tmp, regs + i, p->size * sizeof *regs);
			w[n].v = sp_get(tmp, &q);
		}
		w[n].p = p;
		w[n].b = b;
		w[n].inst = inst;
		n++;
		i += p->size;
	}
	for (unsigned i = 0; i < n; i++)
		if ((ex = check_value(&w[i]))) {
			exception(out, ex);
			return;
		}
	if (data != MB_DATA_LIVE) {
		exception(out, MB_EX_DEVICE_FAILURE);
		return;
	}
	(void)img;
	ex = apply(w, n, unit);
	if (ex) {
		exception(out, ex);
		return;
	}
	reply_echo(adu, out);
}

void req_handle(const uint8_t *adu, int len, const struct mb_peer *peer,
		struct mb_result *out)
{
	unsigned unit, fn, addr, qty;
	const uint16_t *img;
	const struct mb_unit *lay = NULL;
	enum mb_data data;
	struct mb_fault *f;
	int64_t wall = dev_wall_ns();

	memset(out, 0, sizeof *out);
	out->kind = MB_ANS_NONE;
	if (len < 8)
		return;
	unit = adu[6];
	fn = adu[7];
	dev_check_faults();

	f = faults_find(dev_faults(), MBF_DROP, unit, wall);
	if (f && ++f->count % f->every == 0) {
		out->kind = MB_ANS_CLOSE;
		return;
	}
	f = faults_find(dev_faults(), MBF_SILENCE, unit, wall);
	if (f && (f->until_wall_ns || ++f->count % f->every == 0))
		return; /* MB_ANS_NONE */
	f = faults_find(dev_faults(), MBF_DELAY, unit, wall);
	if (f)
		out->delay_ms = f->ms;

	if (fn != 0x03 && fn != 0x06 && fn != 0x10) {
		exception(out, MB_EX_ILLEGAL_FUNCTION);
		return;
	}
	img = dev_image(unit, &data, &lay);
	if (data == MB_DATA_NONE) {
		exception(out, MB_EX_DEVICE_FAILURE);
		return;
	}
	if (!img) {
		exception(out, MB_EX_GATEWAY_TARGET);
		return;
	}
	if (len < 12) {
		exception(out, MB_EX_ILLEGAL_VALUE);
		return;
	}
	addr = be16(adu + 8);
	if (fn == 0x06) {
		qty = 1;
	} else {
		qty = be16(adu + 10);
		if (qty < 1 || qty > (fn == 0x03 ? MAX_READ : MAX_WRITE) ||
		    (fn == 0x10 &&
		     (len < 13 || adu[12] != 2 * qty || len != 13 + 2 * (int)qty))) {
			exception(out, MB_EX_ILLEGAL_VALUE);
			return;
		}
	}
	if (addr < MB_BASE || addr + qty > MB_BASE + lay->n_regs) {
		exception(out, MB_EX_ILLEGAL_ADDRESS);
		return;
	}
	if (fn == 0x03)
		reply_read(adu, img, addr - MB_BASE, qty, out);
	else
		do_write(adu, unit, addr, qty, fn == 0x06 ? adu + 10 : adu + 13,
			 img, lay, data, peer, out);
}
