/*
 * map.c - which SunSpec models sit at which address of each unit, and the
 * register image of a unit built from one snapshot.
 *
 * Unit 1 (the site): "SunS", 1, 701, 702, 704, 713, 802, 803 (one string
 * per rack), 124, end.  Unit 2 + r (rack r): "SunS", 1, 804 (one module
 * group per module), 805 per module, end.  Every image starts at address
 * 40000 and must end by 65535: 803 lists as many strings, and a rack unit
 * as many modules, as fit (map_geometry says how many); Modbus unit ids
 * end at 247, so racks from index 246 on have no unit.
 *
 * Locators (string, module, cell) are 1-based as SunSpec counts them:
 * rack r is string r + 1, module m is m + 1, cell c is c + 1.
 */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "modbusd.h"

/* Offsets of the daemon's own point names, resolved once (the generated
 * table is the only place offsets live). */
#define P(model, name)                                                         \
	({                                                                     \
		static const struct sp_point *p_;                              \
		if (!p_) {                                                     \
			sp_off(model, name);                                   \
			p_ = sp_point_find(model, name);                       \
		}                                                              \
		p_;                                                            \
	})
#define PUT(regs, model, name, v, sf) sp_put(regs, P(model, name), v, sf)
#define RAW(regs, model, name, v) sp_put_raw(regs, P(model, name), v)
#define STR(regs, model, name, s) sp_put_str(regs, P(model, name), s)

void map_site_ext(const struct bs_site *s, struct mb_site_ext *out)
{
	out->soc_reserve_min = s->soc_reserve_min;
	out->soc_reserve_max = s->soc_reserve_max;
	out->fault_bits = s->mb_fault_bits;
	out->fault_revision = s->mb_fault_revision;
	/* an old writer leaves both 0: no reserve */
	if (out->soc_reserve_min == 0 && out->soc_reserve_max == 0)
		out->soc_reserve_max = 1;
}

uint32_t map_rack_operator_open(const struct bs_rack *r)
{
	return r->operator_open;
}

static void add_block(struct mb_unit *u, unsigned model, unsigned nrep,
		      unsigned count)
{
	const struct sp_model *m = sp_model_find(model);
	struct mb_block *b = &u->blocks[u->n_blocks++];

	b->model = (uint16_t)model;
	b->start = (uint16_t)u->n_regs;
	b->len = (uint16_t)(m->fixed_len + nrep * m->rep_len);
	b->nrep = (uint16_t)nrep;
	b->count = (uint16_t)count;
	u->n_regs += (unsigned)b->len * count;
}

static double ocv_at(const struct cfg_cell *c, double soc)
{
	if (c->ocv_n < 2)
		return (c->v_min + c->v_max) / 2;
	for (unsigned i = 1; i < c->ocv_n; i++)
		if (soc <= c->ocv_soc[i]) {
			double f = (soc - c->ocv_soc[i - 1]) /
				   (c->ocv_soc[i] - c->ocv_soc[i - 1]);

			return c->ocv_v[i - 1] + f * (c->ocv_v[i] - c->ocv_v[i - 1]);
		}
	return c->ocv_v[c->ocv_n - 1];
}

int map_geometry(struct mb_geom *g, const struct bs_geometry *h,
		 const char *chemistry,
		 const struct bsd_config *cfg, char *err, size_t errlen)
{
	struct cfg_cell cell = cfg->cell;
	const struct sp_model *m803 = sp_model_find(803);
	const struct sp_model *m804 = sp_model_find(804);
	const struct sp_model *m805 = sp_model_find(805);
	unsigned fixed, per_mod, cells_per_rack;
	char chem[17];
	double a_max;

	memset(g, 0, sizeof *g);
	g->topo.racks = h->n_racks;
	g->topo.modules_per_rack = h->modules_per_rack;
	g->topo.cells_per_module = h->cells_per_module;
	memcpy(chem, chemistry, 16);
	chem[16] = '\0';
	/* the writer's chemistry, when it is a preset, rates the site */
	if (chem[0] && cfg_preset(&cell, chem) != 0)
		cell = cfg->cell;

	/* site unit */
	fixed = 2 + 2;
	for (unsigned i = 0; i < sp_n_models; i++) {
		unsigned id = sp_models[i].id;

		if (id == 1 || id == 701 || id == 702 || id == 704 ||
		    id == 713 || id == 802 || id == 803 || id == 124)
			fixed += sp_models[i].fixed_len;
	}
	g->n_str = h->n_racks;
	if (fixed + (uint64_t)g->n_str * m803->rep_len > MB_SPACE)
		g->n_str = (MB_SPACE - fixed) / m803->rep_len;
	g->site.n_regs = 2;
	add_block(&g->site, 1, 0, 1);
	add_block(&g->site, 701, 0, 1);
	add_block(&g->site, 702, 0, 1);
	add_block(&g->site, 704, 0, 1);
	add_block(&g->site, 713, 0, 1);
	add_block(&g->site, 802, 0, 1);
	add_block(&g->site, 803, g->n_str, 1);
	add_block(&g->site, 124, 0, 1);
	g->site.n_regs += 2;

	/* rack units: as many modules as fit (each an 804 group and an 805) */
	per_mod = m804->rep_len + m805->fixed_len +
		  h->cells_per_module * (unsigned)m805->rep_len;
	fixed = 2 + sp_model_find(1)->fixed_len + m804->fixed_len + 2;
	if (fixed + per_mod > MB_SPACE) {
		snprintf(err, errlen,
			 "a module of %u cells needs %u registers, more than "
			 "the %u a unit has from address 40000: use at most "
			 "%u cells per module",
			 h->cells_per_module, per_mod, MB_SPACE - fixed,
			 (MB_SPACE - fixed - m804->rep_len - m805->fixed_len) /
			     m805->rep_len);
		return -1;
	}
	g->n_mod = h->modules_per_rack;
	if (fixed + (uint64_t)g->n_mod * per_mod > MB_SPACE)
		g->n_mod = (MB_SPACE - fixed) / per_mod;
	g->rack.n_regs = 2;
	add_block(&g->rack, 1, 0, 1);
	add_block(&g->rack, 804, g->n_mod, 1);
	add_block(&g->rack, 805, h->cells_per_module, g->n_mod);
	g->rack.n_regs += 2;
	g->n_rack_units = h->n_racks;
	if (g->n_rack_units > MB_LAST_UNIT - MB_FIRST_RACK_UNIT + 1)
		g->n_rack_units = MB_LAST_UNIT - MB_FIRST_RACK_UNIT + 1;

	/* ratings and scale factors */
	cells_per_rack = h->modules_per_rack * h->cells_per_module;
	g->v_nom_cell = ocv_at(&cell, 0.5);
	g->v_max_cell = cell.v_max;
	g->v_min_cell = cell.v_min;
	g->a_cha_rack = cfg->bms.max_charge_a;
	g->a_dis_rack = cfg->bms.max_discharge_a;
	g->w_dis_rtg = h->n_racks * g->a_dis_rack * cells_per_rack * g->v_nom_cell;
	g->w_cha_rtg = h->n_racks * g->a_cha_rack * cells_per_rack * g->v_nom_cell;
	g->ah_rtg = h->n_racks * cell.capacity_ah;
	g->wh_rtg = (double)h->n_racks * cells_per_rack * cell.capacity_ah *
		    g->v_nom_cell;
	a_max = fmax(g->a_cha_rack, g->a_dis_rack);
	/* Currents and power can pass the BMS limits for a moment (a
	 * setpoint beyond them, a fault): leave a factor 4 of headroom. */
	g->sf.soc = -2;
	g->sf.cell_v = -3;
	g->sf.tmp = -1;
	g->sf.pct = -1;
	g->sf.site_v = sp_sf_for(cells_per_rack * g->v_max_cell * 1.2, -1, 65534);
	g->sf.mod_v = sp_sf_for(h->cells_per_module * g->v_max_cell * 1.2, -2,
				65534);
	g->sf.rack_a = sp_sf_for(4 * a_max, -1, 32766);
	g->sf.site_a = sp_sf_for(4 * a_max * h->n_racks, -1, 32766);
	g->sf.site_w = sp_sf_for(4 * a_max * h->n_racks * cells_per_rack *
				     g->v_max_cell,
				 0, 32766);
	g->sf.w_rtg = sp_sf_for(fmax(g->w_dis_rtg, g->w_cha_rtg), 0, 65534);
	g->sf.wh = sp_sf_for(g->wh_rtg, 0, 65534);
	g->sf.ah = sp_sf_for(g->ah_rtg, 0, 65534);

	snprintf(g->opt, sizeof g->opt, "%ux%ux%u", h->n_racks,
		 h->modules_per_rack, h->cells_per_module);
	/* the site's serial: its segment name (site_name in the header is
	 * reserved for that, written by no writer yet) */
	snprintf(g->site_id, sizeof g->site_id, "%.23s",
		 cfg->shm_name[0] == '/' ? cfg->shm_name + 1 : cfg->shm_name);
	return 0;
}

const struct sp_point *map_locate(const struct mb_unit *u, unsigned reg,
				  unsigned *pt_start, int *inst,
				  const struct mb_block **blk)
{
	for (unsigned i = 0; i < u->n_blocks; i++) {
		const struct mb_block *b = &u->blocks[i];
		const struct sp_model *m;
		unsigned off, base = b->start;
		int rep = -1;

		if (reg < b->start ||
		    reg >= (unsigned)b->start + (unsigned)b->len * b->count)
			continue;
		m = sp_model_find(b->model);
		base = b->start + (reg - b->start) / b->len * b->len;
		off = reg - base;
		if (off >= m->fixed_len) {
			rep = (int)((off - m->fixed_len) / m->rep_len);
			base += m->fixed_len + (unsigned)rep * m->rep_len;
			off = reg - base;
		}
		for (unsigned k = m->first; k < (unsigned)m->first + m->n; k++) {
			const struct sp_point *p = &sp_points[k];

			if (p->repeating != (rep >= 0))
				continue;
			if (off >= p->offset && off < (unsigned)p->offset + p->size) {
				if (!strcmp(p->name, "ID") || !strcmp(p->name, "L"))
					return NULL;
				*pt_start = base + p->offset;
				*inst = rep;
				*blk = b;
				return p;
			}
		}
		return NULL;
	}
	return NULL;
}

/* Write the model header and NI values of instance k of a block. */
static uint16_t *begin_inst(uint16_t *img, const struct mb_block *b,
			    unsigned k)
{
	const struct sp_model *m = sp_model_find(b->model);
	uint16_t *r = img + b->start + (size_t)k * b->len;

	sp_fill_ni(r, m, 0);
	for (unsigned j = 0; j < b->nrep; j++)
		sp_fill_ni(r + m->fixed_len + j * m->rep_len, m, 1);
	r[0] = b->model;
	r[1] = (uint16_t)(b->len - 2);
	return r;
}

static uint16_t *begin_block(uint16_t *img, const struct mb_block *b)
{
	return begin_inst(img, b, 0);
}

static void marker(uint16_t *img, const struct mb_unit *u)
{
	img[0] = 0x5375; /* "Su" */
	img[1] = 0x6e53; /* "nS" */
	img[u->n_regs - 2] = 0xFFFF;
	img[u->n_regs - 1] = 0;
}

/* SunSpec 802/803/804 event bits from batsim alarm bits. */
static uint32_t evt1_of(uint32_t alarm, uint32_t faults, int stale)
{
	static const struct {
		unsigned kind;
		int alarm_bit, warn_bit;
	} map[] = {
	    {BS_ALARM_CELL_OV, 9, 10},  {BS_ALARM_CELL_UV, 11, 12},
	    {BS_ALARM_CELL_OT, 1, 2},   {BS_ALARM_CELL_UT, 3, 4},
	    {BS_ALARM_V_SPREAD, 17, 17}, {BS_ALARM_T_SPREAD, 18, 19},
	    {BS_ALARM_SOC_HIGH, 15, 16}, {BS_ALARM_SOC_LOW, 13, 14},
	};
	uint32_t e = 0;

	for (unsigned i = 0; i < sizeof map / sizeof map[0]; i++) {
		unsigned k = map[i].kind;

		if (alarm & (BS_ALARM_BIT(BS_TIER_ALARM, k) |
			     BS_ALARM_BIT(BS_TIER_PROTECTION, k)))
			e |= 1u << map[i].alarm_bit;
		if (alarm & BS_ALARM_BIT(BS_TIER_WARNING, k))
			e |= 1u << map[i].warn_bit;
	}
	if (faults & (1u << BS_FAULT_OPEN))
		e |= 1u << 20; /* CONTACTOR_ERROR */
	if (stale)
		e |= 1u << 0; /* COMMUNICATION_ERROR */
	return e;
}

static unsigned cha_st(double soc, double current_a, int connected)
{
	if (!connected)
		return 1; /* OFF */
	if (current_a > 0.5)
		return 3; /* DISCHARGING */
	if (current_a < -0.5)
		return 4; /* CHARGING */
	if (soc >= 0.995)
		return 5; /* FULL */
	if (soc <= 0.005)
		return 2; /* EMPTY */
	return 6;        /* HOLDING */
}

static void common_block(uint16_t *img, const struct mb_block *b,
			 const struct mb_geom *g, const char *md,
			 const char *sn, unsigned unit)
{
	uint16_t *r = begin_block(img, b);

	STR(r, 1, "Mn", "batsim");
	STR(r, 1, "Md", md);
	STR(r, 1, "Opt", g->opt);
	STR(r, 1, "Vr", PACKAGE_VERSION);
	STR(r, 1, "SN", sn);
	RAW(r, 1, "DA", unit);
}

void map_site_hb(uint16_t *img, const struct mb_geom *g, int64_t wall_ns)
{
	/* 802 is block 5 of the site unit */
	RAW(img + g->site.blocks[5].start, 802, "Hb",
	    (uint64_t)(wall_ns / 1000000000) & 0xFFFF);
}

void map_site_image(uint16_t *img, const struct mb_geom *g,
		    const struct mb_site_snap *s, const struct mb_state *st,
		    int stale)
{
	const struct bs_site *si = &s->site;
	const struct mb_scale *sf = &g->sf;
	const uint32_t R = g->topo.racks, C = g->topo.cells_per_module;
	struct mb_site_ext ext;
	uint32_t alarms = 0, faults = 0, vnd = 0;
	uint32_t vmax_r = 0, vmin_r = 0, tmax_r = 0, tmin_r = 0;
	uint32_t svmax_r = 0, svmin_r = 0, amax_r = 0, amin_r = 0;
	double v_avg = 0, t_avg = 0, sv_avg = 0, a_avg = 0;
	int connected = si->racks_closed > 0;
	char sn[40];
	uint16_t *r;

	map_site_ext(si, &ext);
	for (uint32_t k = 0; k < R; k++) {
		const struct bs_rack *q = &s->racks[k];

		alarms |= q->alarm_active | q->alarm_latched;
		faults |= q->fault_bits;
		if (q->cell_v_max > s->racks[vmax_r].cell_v_max)
			vmax_r = k;
		if (q->cell_v_min < s->racks[vmin_r].cell_v_min)
			vmin_r = k;
		if (q->temp_max_c > s->racks[tmax_r].temp_max_c)
			tmax_r = k;
		if (q->temp_min_c < s->racks[tmin_r].temp_min_c)
			tmin_r = k;
		if (q->voltage_v > s->racks[svmax_r].voltage_v)
			svmax_r = k;
		if (q->voltage_v < s->racks[svmin_r].voltage_v)
			svmin_r = k;
		if (q->current_a > s->racks[amax_r].current_a)
			amax_r = k;
		if (q->current_a < s->racks[amin_r].current_a)
			amin_r = k;
		v_avg += q->cell_v_mean;
		t_avg += q->temp_mean_c;
		sv_avg += q->voltage_v;
		a_avg += q->current_a;
	}
	v_avg /= R;
	t_avg /= R;
	sv_avg /= R;
	a_avg /= R;
	vnd = alarms;

	marker(img, &g->site);
	snprintf(sn, sizeof sn, "%s", g->site_id);
	common_block(img, &g->site.blocks[0], g, "batsim BESS site", sn,
		     MB_SITE_UNIT);

	/* 701: the site's power, simplified to what batsim models (DC) */
	r = begin_block(img, &g->site.blocks[1]);
	RAW(r, 701, "ACType", 2);
	RAW(r, 701, "St", connected && !stale ? 1 : 0);
	RAW(r, 701, "InvSt", stale ? 6 : connected ? 3 : 7);
	RAW(r, 701, "ConnSt", connected ? 1 : 0);
	RAW(r, 701, "Alrm",
	    ((alarms & (BS_ALARM_BIT(1, BS_ALARM_CELL_OV) |
			BS_ALARM_BIT(2, BS_ALARM_CELL_OV)))
		 ? 1u << 1
		 : 0) |
		(connected ? 0 : 1u << 3) |
		((alarms & (BS_ALARM_BIT(1, BS_ALARM_CELL_OT) |
			    BS_ALARM_BIT(2, BS_ALARM_CELL_OT)))
		     ? 1u << 7
		     : 0) |
		((alarms & (BS_ALARM_BIT(1, BS_ALARM_CELL_UT) |
			    BS_ALARM_BIT(2, BS_ALARM_CELL_UT)))
		     ? 1u << 13
		     : 0));
	PUT(r, 701, "W", si->power_w, sf->site_w);
	PUT(r, 701, "TotWhInj", si->energy_out_wh, 0);
	PUT(r, 701, "TotWhAbs", si->energy_in_wh, 0);
	PUT(r, 701, "TmpAmb", si->ambient_c, sf->tmp);
	RAW(r, 701, "W_SF", (uint16_t)sf->site_w);
	RAW(r, 701, "TotWh_SF", 0);
	RAW(r, 701, "Tmp_SF", (uint16_t)sf->tmp);

	/* 702: ratings */
	r = begin_block(img, &g->site.blocks[2]);
	PUT(r, 702, "WMaxRtg", g->w_dis_rtg, sf->w_rtg);
	PUT(r, 702, "WChaRteMaxRtg", g->w_cha_rtg, sf->w_rtg);
	PUT(r, 702, "WDisChaRteMaxRtg", g->w_dis_rtg, sf->w_rtg);
	PUT(r, 702, "WMax", g->w_dis_rtg, sf->w_rtg);
	PUT(r, 702, "WChaRteMax", g->w_cha_rtg, sf->w_rtg);
	PUT(r, 702, "WDisChaRteMax", g->w_dis_rtg, sf->w_rtg);
	PUT(r, 702, "VNomRtg",
	    g->v_nom_cell * g->topo.modules_per_rack * C, sf->site_v);
	PUT(r, 702, "VMaxRtg",
	    g->v_max_cell * g->topo.modules_per_rack * C, sf->site_v);
	PUT(r, 702, "VMinRtg",
	    g->v_min_cell * g->topo.modules_per_rack * C, sf->site_v);
	PUT(r, 702, "AMaxRtg", g->a_dis_rack * R, sf->site_a);
	RAW(r, 702, "W_SF", (uint16_t)sf->w_rtg);
	RAW(r, 702, "V_SF", (uint16_t)sf->site_v);
	RAW(r, 702, "A_SF", (uint16_t)sf->site_a);

	/* 704: the power setpoint the daemon holds */
	r = begin_block(img, &g->site.blocks[3]);
	RAW(r, 704, "WSetEna", st->wset_ena);
	RAW(r, 704, "WSetMod", st->wset_mod);
	RAW(r, 704, "WSet", (uint32_t)st->wset);
	RAW(r, 704, "WSetRvrt", (uint32_t)st->wset_rvrt);
	RAW(r, 704, "WSetPct", (uint16_t)st->wset_pct);
	RAW(r, 704, "WSetPctRvrt", (uint16_t)st->wset_pct_rvrt);
	RAW(r, 704, "WSetEnaRvrt", st->wset_ena_rvrt);
	RAW(r, 704, "WSetRvrtTms", st->wset_rvrt_tms);
	{
		int64_t left = st->wset_rvrt_at_ns
				   ? st->wset_rvrt_at_ns - dev_now_ns()
				   : 0;

		RAW(r, 704, "WSetRvrtRem",
		    left > 0 ? (uint64_t)((left + 999999999) / 1000000000)
			     : 0);
	}
	RAW(r, 704, "WSet_SF", 0);
	RAW(r, 704, "WSetPct_SF", (uint16_t)sf->pct);

	/* 713: storage capacity */
	r = begin_block(img, &g->site.blocks[4]);
	PUT(r, 713, "WHRtg", g->wh_rtg, sf->wh);
	PUT(r, 713, "WHAvail", g->wh_rtg * si->soc_mean, sf->wh);
	PUT(r, 713, "SoC", si->soc_mean * 100.0, sf->soc);
	RAW(r, 713, "Sta",
	    stale || si->latched_count[BS_TIER_PROTECTION] ? 2
	    : si->alarm_count[BS_TIER_WARNING] || si->alarm_count[BS_TIER_ALARM]
		? 1
		: 0);
	RAW(r, 713, "WH_SF", (uint16_t)sf->wh);
	RAW(r, 713, "Pct_SF", (uint16_t)sf->soc);

	/* 802: battery base */
	r = begin_block(img, &g->site.blocks[5]);
	PUT(r, 802, "AHRtg", g->ah_rtg, sf->ah);
	PUT(r, 802, "WHRtg", g->wh_rtg, sf->wh);
	PUT(r, 802, "WChaRteMax", g->w_cha_rtg, sf->w_rtg);
	PUT(r, 802, "WDisChaRteMax", g->w_dis_rtg, sf->w_rtg);
	PUT(r, 802, "SoCMax", 100.0, sf->soc);
	PUT(r, 802, "SoCMin", 0.0, sf->soc);
	PUT(r, 802, "SocRsvMax", ext.soc_reserve_max * 100.0, sf->soc);
	PUT(r, 802, "SoCRsvMin", ext.soc_reserve_min * 100.0, sf->soc);
	PUT(r, 802, "SoC", si->soc_mean * 100.0, sf->soc);
	PUT(r, 802, "DoD", 100.0 - si->soc_mean * 100.0, sf->soc);
	RAW(r, 802, "ChaSt", cha_st(si->soc_mean, si->current_a, connected));
	RAW(r, 802, "LocRemCtl", 0);
	RAW(r, 802, "Hb", (uint64_t)(s->meta.wall_time_ns / 1000000000) & 0xFFFF);
	RAW(r, 802, "CtrlHb", st->ctrl_hb);
	RAW(r, 802, "AlmRst", 0);
	RAW(r, 802, "Typ", 4);
	RAW(r, 802, "State", stale ? 99 : connected ? 3 : 1);
	RAW(r, 802, "Evt1", evt1_of(alarms, faults, stale));
	RAW(r, 802, "Evt2", 0);
	RAW(r, 802, "EvtVnd1", vnd);
	RAW(r, 802, "EvtVnd2", faults);
	PUT(r, 802, "V", si->bus_voltage_v, sf->site_v);
	PUT(r, 802, "VMax", g->v_max_cell * g->topo.modules_per_rack * C,
	    sf->site_v);
	PUT(r, 802, "VMin", g->v_min_cell * g->topo.modules_per_rack * C,
	    sf->site_v);
	PUT(r, 802, "CellVMax", s->racks[vmax_r].cell_v_max, sf->cell_v);
	RAW(r, 802, "CellVMaxStr", vmax_r + 1);
	RAW(r, 802, "CellVMaxMod", s->racks[vmax_r].v_max_cell / C + 1);
	PUT(r, 802, "CellVMin", s->racks[vmin_r].cell_v_min, sf->cell_v);
	RAW(r, 802, "CellVMinStr", vmin_r + 1);
	RAW(r, 802, "CellVMinMod", s->racks[vmin_r].v_min_cell / C + 1);
	PUT(r, 802, "CellVAvg", v_avg, sf->cell_v);
	PUT(r, 802, "A", si->current_a, sf->site_a);
	PUT(r, 802, "AChaMax", si->charge_limit_a, sf->site_a);
	PUT(r, 802, "ADisChaMax", si->discharge_limit_a, sf->site_a);
	PUT(r, 802, "W", si->power_w, sf->site_w);
	RAW(r, 802, "SetOp", connected ? 1 : 2);
	RAW(r, 802, "SetInvState", st->set_inv_state);
	RAW(r, 802, "AHRtg_SF", (uint16_t)sf->ah);
	RAW(r, 802, "WHRtg_SF", (uint16_t)sf->wh);
	RAW(r, 802, "WChaDisChaMax_SF", (uint16_t)sf->w_rtg);
	RAW(r, 802, "SoC_SF", (uint16_t)sf->soc);
	RAW(r, 802, "DoD_SF", (uint16_t)sf->soc);
	RAW(r, 802, "V_SF", (uint16_t)sf->site_v);
	RAW(r, 802, "CellV_SF", (uint16_t)sf->cell_v);
	RAW(r, 802, "A_SF", (uint16_t)sf->site_a);
	RAW(r, 802, "AMax_SF", (uint16_t)sf->site_a);
	RAW(r, 802, "W_SF", (uint16_t)sf->site_w);

	/* 803: the bank, one string per rack */
	r = begin_block(img, &g->site.blocks[6]);
	RAW(r, 803, "NStr", g->n_str);
	RAW(r, 803, "NStrCon", si->racks_closed);
	PUT(r, 803, "ModTmpMax", s->racks[tmax_r].temp_max_c, sf->tmp);
	RAW(r, 803, "ModTmpMaxStr", tmax_r + 1);
	RAW(r, 803, "ModTmpMaxMod", s->racks[tmax_r].t_max_cell / C + 1);
	PUT(r, 803, "ModTmpMin", s->racks[tmin_r].temp_min_c, sf->tmp);
	RAW(r, 803, "ModTmpMinStr", tmin_r + 1);
	RAW(r, 803, "ModTmpMinMod", s->racks[tmin_r].t_min_cell / C + 1);
	PUT(r, 803, "ModTmpAvg", t_avg, sf->tmp);
	PUT(r, 803, "StrVMax", s->racks[svmax_r].voltage_v, sf->site_v);
	RAW(r, 803, "StrVMaxStr", svmax_r + 1);
	PUT(r, 803, "StrVMin", s->racks[svmin_r].voltage_v, sf->site_v);
	RAW(r, 803, "StrVMinStr", svmin_r + 1);
	PUT(r, 803, "StrVAvg", sv_avg, sf->site_v);
	PUT(r, 803, "StrAMax", s->racks[amax_r].current_a, sf->rack_a);
	RAW(r, 803, "StrAMaxStr", amax_r + 1);
	PUT(r, 803, "StrAMin", s->racks[amin_r].current_a, sf->rack_a);
	RAW(r, 803, "StrAMinStr", amin_r + 1);
	PUT(r, 803, "StrAAvg", a_avg, sf->rack_a);
	RAW(r, 803, "CellV_SF", (uint16_t)sf->cell_v);
	RAW(r, 803, "ModTmp_SF", (uint16_t)sf->tmp);
	RAW(r, 803, "A_SF", (uint16_t)sf->rack_a);
	RAW(r, 803, "SoH_SF", (uint16_t)sf->soc);
	RAW(r, 803, "SoC_SF", (uint16_t)sf->soc);
	RAW(r, 803, "V_SF", (uint16_t)sf->site_v);
	for (uint32_t k = 0; k < g->n_str; k++) {
		const struct bs_rack *q = &s->racks[k];
		uint16_t *i = r + sp_model_find(803)->fixed_len +
			      k * sp_model_find(803)->rep_len;
		uint32_t opened = map_rack_operator_open(q);
		int open_fault = (q->fault_bits >> BS_FAULT_OPEN) & 1;
		uint32_t qa = q->alarm_active | q->alarm_latched;

		RAW(i, 803, "StrNMod", g->topo.modules_per_rack);
		RAW(i, 803, "StrSt", (opened ? 0u : 1u) | (q->contactor ? 2u : 0u));
		RAW(i, 803, "StrConFail", open_fault ? 6 : 0);
		PUT(i, 803, "StrSoC", q->soc_mean * 100.0, sf->soc);
		PUT(i, 803, "StrA", q->current_a, sf->rack_a);
		PUT(i, 803, "StrCellVMax", q->cell_v_max, sf->cell_v);
		RAW(i, 803, "StrCellVMaxMod", q->v_max_cell / C + 1);
		PUT(i, 803, "StrCellVMin", q->cell_v_min, sf->cell_v);
		RAW(i, 803, "StrCellVMinMod", q->v_min_cell / C + 1);
		PUT(i, 803, "StrCellVAvg", q->cell_v_mean, sf->cell_v);
		PUT(i, 803, "StrModTmpMax", q->temp_max_c, sf->tmp);
		RAW(i, 803, "StrModTmpMaxMod", q->t_max_cell / C + 1);
		PUT(i, 803, "StrModTmpMin", q->temp_min_c, sf->tmp);
		RAW(i, 803, "StrModTmpMinMod", q->t_min_cell / C + 1);
		PUT(i, 803, "StrModTmpAvg", q->temp_mean_c, sf->tmp);
		RAW(i, 803, "StrDisRsn",
		    q->contactor ? 0 : opened ? 3 : 1);
		RAW(i, 803, "StrConSt", q->contactor ? 1 : 0);
		RAW(i, 803, "StrEvt1", evt1_of(qa, q->fault_bits, stale));
		RAW(i, 803, "StrEvt2", 0);
		RAW(i, 803, "StrEvtVnd1", qa);
		RAW(i, 803, "StrEvtVnd2", q->fault_bits);
		RAW(i, 803, "StrSetEna", opened ? 2 : 1);
		RAW(i, 803, "StrSetCon", q->contactor ? 1 : 2);
	}

	/* 124: basic storage controls */
	r = begin_block(img, &g->site.blocks[7]);
	RAW(r, 124, "WChaMax", st->wcha_max);
	RAW(r, 124, "WChaGra", st->wcha_gra);
	RAW(r, 124, "WDisChaGra", st->wdischa_gra);
	RAW(r, 124, "StorCtl_Mod", st->storctl_mod);
	PUT(r, 124, "ChaState", si->soc_mean * 100.0, sf->soc);
	PUT(r, 124, "StorAval", g->ah_rtg * si->soc_mean, sf->ah);
	PUT(r, 124, "InBatV", si->bus_voltage_v, sf->site_v);
	RAW(r, 124, "ChaSt", cha_st(si->soc_mean, si->current_a, connected));
	RAW(r, 124, "OutWRte", (uint16_t)st->out_wrte);
	RAW(r, 124, "InWRte", (uint16_t)st->in_wrte);
	RAW(r, 124, "InOutWRte_WinTms", st->win_tms);
	RAW(r, 124, "InOutWRte_RvrtTms", st->rvrt_tms);
	RAW(r, 124, "InOutWRte_RmpTms", st->rmp_tms);
	RAW(r, 124, "WChaMax_SF", (uint16_t)sf->w_rtg);
	RAW(r, 124, "WChaDisChaGra_SF", 0);
	RAW(r, 124, "ChaState_SF", (uint16_t)sf->soc);
	RAW(r, 124, "StorAval_SF", (uint16_t)sf->ah);
	RAW(r, 124, "InBatV_SF", (uint16_t)sf->site_v);
	RAW(r, 124, "InOutWRte_SF", (uint16_t)sf->pct);
}

void map_rack_image(uint16_t *img, const struct mb_geom *g,
		    const struct mb_rack_snap *s, int stale)
{
	const struct bs_rack *q = &s->rec;
	const struct mb_scale *sf = &g->sf;
	const uint32_t C = g->topo.cells_per_module;
	const struct sp_model *m804 = sp_model_find(804);
	const struct sp_model *m805 = sp_model_find(805);
	uint32_t opened = map_rack_operator_open(q);
	uint32_t qa = q->alarm_active | q->alarm_latched;
	char sn[48];
	uint16_t *r;

	marker(img, &g->rack);
	snprintf(sn, sizeof sn, "%s-rack%u", g->site_id, s->rack);
	common_block(img, &g->rack.blocks[0], g, "batsim BESS rack", sn,
		     MB_FIRST_RACK_UNIT + s->rack);

	r = begin_block(img, &g->rack.blocks[1]);
	RAW(r, 804, "Idx", s->rack + 1);
	RAW(r, 804, "NMod", g->n_mod);
	RAW(r, 804, "St", (opened ? 0u : 1u) | (q->contactor ? 2u : 0u));
	RAW(r, 804, "ConFail", (q->fault_bits >> BS_FAULT_OPEN) & 1 ? 6 : 0);
	PUT(r, 804, "SoC", q->soc_mean * 100.0, sf->soc);
	PUT(r, 804, "DoD", 100.0 - q->soc_mean * 100.0, sf->soc);
	PUT(r, 804, "A", q->current_a, sf->rack_a);
	PUT(r, 804, "V", q->voltage_v, sf->site_v);
	PUT(r, 804, "CellVMax", q->cell_v_max, sf->cell_v);
	RAW(r, 804, "CellVMaxMod", q->v_max_cell / C + 1);
	PUT(r, 804, "CellVMin", q->cell_v_min, sf->cell_v);
	RAW(r, 804, "CellVMinMod", q->v_min_cell / C + 1);
	PUT(r, 804, "CellVAvg", q->cell_v_mean, sf->cell_v);
	PUT(r, 804, "ModTmpMax", q->temp_max_c, sf->tmp);
	RAW(r, 804, "ModTmpMaxMod", q->t_max_cell / C + 1);
	PUT(r, 804, "ModTmpMin", q->temp_min_c, sf->tmp);
	RAW(r, 804, "ModTmpMinMod", q->t_min_cell / C + 1);
	PUT(r, 804, "ModTmpAvg", q->temp_mean_c, sf->tmp);
	RAW(r, 804, "ConSt", q->contactor ? 1 : 0);
	RAW(r, 804, "Evt1", evt1_of(qa, q->fault_bits, stale));
	RAW(r, 804, "Evt2", 0);
	RAW(r, 804, "EvtVnd1", qa);
	RAW(r, 804, "EvtVnd2", q->fault_bits);
	RAW(r, 804, "SetEna", opened ? 2 : 1);
	RAW(r, 804, "SetCon", q->contactor ? 1 : 2);
	RAW(r, 804, "SoC_SF", (uint16_t)sf->soc);
	RAW(r, 804, "DoD_SF", (uint16_t)sf->soc);
	RAW(r, 804, "A_SF", (uint16_t)sf->rack_a);
	RAW(r, 804, "V_SF", (uint16_t)sf->site_v);
	RAW(r, 804, "CellV_SF", (uint16_t)sf->cell_v);
	RAW(r, 804, "ModTmp_SF", (uint16_t)sf->tmp);
	for (uint32_t m = 0; m < g->n_mod; m++) {
		const struct bs_module *md = &s->mods[m];
		uint16_t *i = r + m804->fixed_len + m * m804->rep_len;

		RAW(i, 804, "ModNCell", C);
		PUT(i, 804, "ModSoC", md->soc_mean * 100.0, sf->soc);
		PUT(i, 804, "ModCellVMax", md->cell_v_max, sf->cell_v);
		RAW(i, 804, "ModCellVMaxCell", md->v_max_cell + 1);
		PUT(i, 804, "ModCellVMin", md->cell_v_min, sf->cell_v);
		RAW(i, 804, "ModCellVMinCell", md->v_min_cell + 1);
		PUT(i, 804, "ModCellVAvg", md->cell_v_mean, sf->cell_v);
		PUT(i, 804, "ModCellTmpMax", md->temp_max_c, sf->tmp);
		RAW(i, 804, "ModCellTmpMaxCell", md->t_max_cell + 1);
		PUT(i, 804, "ModCellTmpMin", md->temp_min_c, sf->tmp);
		RAW(i, 804, "ModCellTmpMinCell", md->t_min_cell + 1);
		PUT(i, 804, "ModCellTmpAvg", md->temp_mean_c, sf->tmp);
	}
	for (uint32_t m = 0; m < g->n_mod; m++) {
		const struct bs_module *md = &s->mods[m];
		const struct bs_cell *cl = &s->cells[(size_t)m * C];

		snprintf(sn, sizeof sn, "%s-r%um%u", g->site_id, s->rack, m);
		r = begin_inst(img, &g->rack.blocks[2], m);
		RAW(r, 805, "StrIdx", s->rack + 1);
		RAW(r, 805, "ModIdx", m + 1);
		RAW(r, 805, "NCell", C);
		PUT(r, 805, "SoC", md->soc_mean * 100.0, sf->soc);
		PUT(r, 805, "DoD", 100.0 - md->soc_mean * 100.0, sf->soc);
		PUT(r, 805, "V", md->voltage_v, sf->mod_v);
		PUT(r, 805, "CellVMax", md->cell_v_max, sf->cell_v);
		RAW(r, 805, "CellVMaxCell", md->v_max_cell + 1);
		PUT(r, 805, "CellVMin", md->cell_v_min, sf->cell_v);
		RAW(r, 805, "CellVMinCell", md->v_min_cell + 1);
		PUT(r, 805, "CellVAvg", md->cell_v_mean, sf->cell_v);
		PUT(r, 805, "CellTmpMax", md->temp_max_c, sf->tmp);
		RAW(r, 805, "CellTmpMaxCell", md->t_max_cell + 1);
		PUT(r, 805, "CellTmpMin", md->temp_min_c, sf->tmp);
		RAW(r, 805, "CellTmpMinCell", md->t_min_cell + 1);
		PUT(r, 805, "CellTmpAvg", md->temp_mean_c, sf->tmp);
		STR(r, 805, "SN", sn);
		RAW(r, 805, "SoC_SF", (uint16_t)sf->soc);
		RAW(r, 805, "DoD_SF", (uint16_t)sf->soc);
		RAW(r, 805, "V_SF", (uint16_t)sf->mod_v);
		RAW(r, 805, "CellV_SF", (uint16_t)sf->cell_v);
		RAW(r, 805, "Tmp_SF", (uint16_t)sf->tmp);
		for (uint32_t c = 0; c < C; c++) {
			uint16_t *ci = r + m805->fixed_len + c * m805->rep_len;

			PUT(ci, 805, "CellV", cl[c].voltage, sf->cell_v);
			PUT(ci, 805, "CellTmp", cl[c].temperature, sf->tmp);
			RAW(ci, 805, "CellSt", 0);
		}
	}
}
