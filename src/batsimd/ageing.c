/*
 * ageing.c - BLAST-Lite LFP-graphite capacity fade per cell (ageing.h).
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>

#include "ageing.h"
#include "rng.h"

#define AG_KELVIN 273.15
#define AG_CADENCE_S 60.0	/* update once per simulated minute */
#define AG_WINDOW_S 86400.0	/* a cycle window closes after a day */
#define AG_WINDOW_EFC 1.0	/* or after one equivalent full cycle */
#define AG_CRATE_REST 0.01	/* BLAST: |C-rate| below this is rest */
#define AG_SOH_FLOOR 0.05	/* keep 1/capacity finite */

/* Stream of the counter-based generator (rng.h); the engine uses 1-3. */
enum { RNG_SOH = 4 };

struct ageing {
	struct ag_params p;
	unsigned every;	   /* steps per update */
	unsigned steps;	   /* steps since the last update */
	double *rack_c;	   /* |I| dt summed per rack since the update (C) */
	/* per cell */
	double *soh0;	   /* initial SoH */
	double *qcal, *qcyc;	   /* losses now (window included) */
	double *qcal_w0, *qcyc_w0; /* losses when the window opened */
	double *kcal_prev; /* k_cal at the previous sample; < 0: none */
	double *efc, *efc_applied, *days;
	double *soh;
	/* the open cycle window */
	double *w_efc, *w_t_s, *w_smin, *w_smax, *w_crate_s, *w_ft_s;
	double *w_kcal_s; /* integral of k_cal over the window (s) */
	double *last_dod, *last_crate;
};

double ag_ua(double soc)
{
	/* BLAST degradation_model._get_Ua: graphite lithiation fraction from
	 * SoC, then Safari and Delacourt's (2011) anode potential. */
	double x = 8.5e-3 + soc * (0.78 - 8.5e-3);
	return 0.6379 + 0.5416 * exp(-305.5309 * x) +
	       0.044 * tanh(-(x - 0.1958) / 0.1088) -
	       0.1978 * tanh((x - 1.0571) / 0.0854) -
	       0.6875 * tanh((x + 0.0117) / 0.0529) -
	       0.0175 * tanh((x - 0.5692) / 0.0875);
}

double ag_kcal(double t_k, double soc)
{
	/* lfp_gr_250AhPrismatic_2019: p1, p2, p3 */
	return 8.37e4 * exp(-5.21e3 / t_k) * exp(-3.56e3 * ag_ua(soc) / t_k);
}

/* k_cyc's temperature factor (p7, p8). */
static double kcyc_t(double t_k)
{
	return exp(2.19e3 / t_k) + exp(-1.55e5 / t_k);
}

/* k_cyc's stress factor (p4, p5, p6). */
static double kcyc_s(double dod, double crate)
{
	return 4.38e-8 + 1.55e-8 * dod + 1.68e-7 * crate;
}

double ag_kcyc(double t_k, double dod, double crate)
{
	return kcyc_s(dod, crate) * kcyc_t(t_k);
}

double ag_power_update(double y, double k, double p, double dx)
{
	if (!(k > 0.0) || !(dx > 0.0))
		return y;
	if (!(y > 0.0))
		return k * pow(dx, p);
	/* the x at which the trajectory k x^p reaches y, then dx further */
	return k * pow(pow(y / k, 1.0 / p) + dx, p);
}

static double clamp01(double x)
{
	return x < 0.0 ? 0.0 : (x > 1.0 ? 1.0 : x);
}

void ag_destroy(struct ageing *g)
{
	if (!g)
		return;
	double *a[] = {g->qcal_w0, g->qcyc_w0, g->w_kcal_s,
		       g->rack_c,    g->soh0,	   g->qcal,	  g->qcyc,
		       g->kcal_prev, g->efc,	   g->efc_applied, g->days,
		       g->soh,	     g->w_efc,	   g->w_t_s,	  g->w_smin,
		       g->w_smax,    g->w_crate_s, g->w_ft_s,	  g->last_dod,
		       g->last_crate};
	for (size_t k = 0; k < sizeof(a) / sizeof(a[0]); k++)
		free(a[k]);
	free(g);
}

struct ageing *ag_create(const struct ag_params *p)
{
	struct ageing *g = calloc(1, sizeof(*g));
	size_t n = p->n_cells ? p->n_cells : 1;
	int fail = 0;
	if (!g)
		return NULL;
	g->p = *p;
	g->every = p->dt_s >= AG_CADENCE_S
		       ? 1u
		       : (unsigned)llround(AG_CADENCE_S / p->dt_s);
	if (g->every == 0)
		g->every = 1;
#define AL(f, cnt)                                                             \
	do {                                                                   \
		g->f = calloc((cnt), sizeof(double));                          \
		if (!g->f)                                                     \
			fail = 1;                                              \
	} while (0)
	AL(rack_c, p->racks ? p->racks : 1);
	AL(soh0, n);
	AL(qcal, n);
	AL(qcyc, n);
	AL(qcal_w0, n);
	AL(qcyc_w0, n);
	AL(w_kcal_s, n);
	AL(kcal_prev, n);
	AL(efc, n);
	AL(efc_applied, n);
	AL(days, n);
	AL(soh, n);
	AL(w_efc, n);
	AL(w_t_s, n);
	AL(w_smin, n);
	AL(w_smax, n);
	AL(w_crate_s, n);
	AL(w_ft_s, n);
	AL(last_dod, n);
	AL(last_crate, n);
#undef AL
	if (fail) {
		ag_destroy(g);
		return NULL;
	}
	for (size_t i = 0; i < p->n_cells; i++) {
		double s = p->initial_soh;
		/* a spread only for a used site: new cells start at 1 (their
		 * capacity spread is capacity_sigma's) */
		if (p->variation && p->soh_sigma > 0.0 && s < 1.0)
			s += p->soh_sigma * rng_normal(p->seed, RNG_SOH, i);
		s = s < 0.5 ? 0.5 : (s > 1.0 ? 1.0 : s);
		g->soh0[i] = g->soh[i] = s;
		g->kcal_prev[i] = -1.0;
		g->w_smin[i] = 2.0; /* empty window */
		g->w_smax[i] = -1.0;
	}
	return g;
}

void ag_accumulate(struct ageing *g, uint32_t r, double i_a)
{
	g->rack_c[r] += fabs(i_a) * g->p.dt_s;
}

int ag_step_done(struct ageing *g)
{
	return ++g->steps >= g->every;
}

/* The losses of cell i with its open window applied as BLAST applies
 * one interval: the rates are the window's time means (k_cal over time,
 * k_cyc from the window's DOD, mean C-rate and mean temperature factor),
 * each state advanced from where it stood when the window opened.  Until
 * the window closes this is provisional (the DOD and means still grow);
 * at the close it is committed. */
static void window_apply(struct ageing *g, size_t i)
{
	double t = g->w_t_s[i];
	if (!(t > 0.0) || !(g->p.factor > 0.0))
		return;
	g->qcal[i] = ag_power_update(g->qcal_w0[i], g->w_kcal_s[i] / t,
				     AG_PCAL, t / 86400.0 * g->p.factor);
	if (g->w_efc[i] > 0.0) {
		double dod = g->w_smax[i] - g->w_smin[i];
		double crate = g->w_crate_s[i] / t;
		double k = kcyc_s(dod < 0.0 ? 0.0 : dod, crate) *
			   (g->w_ft_s[i] / t);
		g->qcyc[i] = ag_power_update(g->qcyc_w0[i], k, AG_PCYC,
					     g->w_efc[i] * g->p.factor);
	}
}

/* Close cell i's window: commit its losses, start the next one at SoC s. */
static void close_window(struct ageing *g, size_t i, double s)
{
	double t = g->w_t_s[i];
	if (g->w_efc[i] > 0.0 && t > 0.0) {
		g->efc_applied[i] += g->w_efc[i];
		g->last_dod[i] = g->w_smax[i] - g->w_smin[i];
		g->last_crate[i] = g->w_crate_s[i] / t;
	}
	g->qcal_w0[i] = g->qcal[i];
	g->qcyc_w0[i] = g->qcyc[i];
	g->w_efc[i] = g->w_t_s[i] = g->w_crate_s[i] = g->w_ft_s[i] = 0.0;
	g->w_kcal_s[i] = 0.0;
	g->w_smin[i] = g->w_smax[i] = s;
}

int ag_update(struct ageing *g, const double *soc, const double *soc_c,
	      const double *t_c, const double *inv_q)
{
	double dt = (double)g->steps * g->p.dt_s;
	double days = dt / 86400.0 * g->p.factor;
	size_t cpr = g->p.cells_per_rack ? g->p.cells_per_rack : 1;
	int changed = 0;

	g->steps = 0;
	if (!(dt > 0.0))
		return 0;
	for (size_t i = 0; i < g->p.n_cells; i++) {
		double s = clamp01(soc[i] + soc_c[i]);
		double tk = t_c[i] + AG_KELVIN;
		/* |delta SoC| over the interval: the rack's charge over this
		 * cell's capacity (as the step counts its SoC) */
		double dsoc = g->rack_c[i / cpr] * inv_q[i];
		double kc, crate, old = g->soh[i];
		if (tk < 150.0)
			tk = 150.0; /* absurd input: keep exp() finite */

		/* calendar: trapezoid of k_cal between samples, like BLAST's
		 * time average of the rate over an interval */
		kc = ag_kcal(tk, s);
		if (g->kcal_prev[i] < 0.0) {
			g->kcal_prev[i] = kc;
			g->w_smin[i] = g->w_smax[i] = s;
		}
		g->w_kcal_s[i] += 0.5 * (g->kcal_prev[i] + kc) * dt;
		g->kcal_prev[i] = kc;
		g->days[i] += days;

		/* the window's stressors */
		if (s < g->w_smin[i])
			g->w_smin[i] = s;
		if (s > g->w_smax[i])
			g->w_smax[i] = s;
		g->efc[i] += dsoc / 2.0;
		g->w_efc[i] += dsoc / 2.0;
		g->w_t_s[i] += dt;
		crate = dsoc / (dt / 3600.0);
		if (crate >= AG_CRATE_REST)
			g->w_crate_s[i] += crate * dt;
		g->w_ft_s[i] += kcyc_t(tk) * dt;
		window_apply(g, i);
		if (g->w_efc[i] >= AG_WINDOW_EFC || g->w_t_s[i] >= AG_WINDOW_S)
			close_window(g, i, s);

		g->soh[i] = g->soh0[i] - g->qcal[i] - g->qcyc[i];
		if (g->soh[i] < AG_SOH_FLOOR)
			g->soh[i] = AG_SOH_FLOOR;
		if (g->soh[i] != old)
			changed = 1;
	}
	for (uint32_t r = 0; r < g->p.racks; r++)
		g->rack_c[r] = 0.0;
	return changed;
}

const double *ag_soh(const struct ageing *g)
{
	return g->soh;
}

const double *ag_efc(const struct ageing *g)
{
	return g->efc;
}

void ag_cell_state(const struct ageing *g, size_t i, struct ag_cell *out)
{
	out->soh = g->soh[i];
	out->qloss_cal = g->qcal[i];
	out->qloss_cyc = g->qcyc[i];
	out->efc = g->efc[i];
	out->efc_applied = g->efc_applied[i];
	out->days = g->days[i];
	out->last_dod = g->last_dod[i];
	out->last_crate = g->last_crate[i];
}
