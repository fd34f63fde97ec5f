/*
 * profile.c - setpoint profiles: CSV (time_s,power_w), peak-shaving,
 * regulation and cycle.  A profile decides the mode and setpoint for each
 * step; the user setpoint comes back when the profile is cleared.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "rng.h"

#define RNG_REG 17

void prof_free(struct eng_profile *p)
{
	free(p->t);
	free(p->p);
	memset(p, 0, sizeof(*p));
}

static int load_csv(struct eng_profile *p, const char *path, char *err,
		    size_t len)
{
	FILE *f = fopen(path, "r");
	char line[512];
	size_t cap = 0;
	unsigned lineno = 0;
	if (!f) {
		snprintf(err, len,
			 "profile %s: %s (give the path of a CSV "
			 "file with lines time_s,power_w)",
			 path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = line, *end;
		double t, w;
		lineno++;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '#' || *s == '\n' || *s == '\r' || *s == '\0')
			continue;
		errno = 0;
		t = strtod(s, &end);
		if (end == s) {
			if (p->n == 0 && lineno == 1)
				continue; /* header line */
			goto bad;
		}
		s = end;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s != ',')
			goto bad;
		s++;
		w = strtod(s, &end);
		if (end == s || errno || !isfinite(t) || !isfinite(w))
			goto bad;
		while (*end == ' ' || *end == '\t' || *end == '\r' ||
		       *end == '\n')
			end++;
		if (*end != '\0')
			goto bad;
		if (p->n > 0 && !(t > p->t[p->n - 1])) {
			snprintf(err, len,
				 "%s:%u: time %g is not after %g "
				 "(times must increase)",
				 path, lineno, t, p->t[p->n - 1]);
			fclose(f);
			return -1;
		}
		if (p->n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			double *nt = realloc(p->t, nc * sizeof(double));
			double *np;
			if (!nt)
				goto oom;
			p->t = nt;
			np = realloc(p->p, nc * sizeof(double));
			if (!np)
				goto oom;
			p->p = np;
			cap = nc;
		}
		p->t[p->n] = t;
		p->p[p->n] = w;
		p->n++;
	}
	fclose(f);
	if (p->n == 0) {
		snprintf(err, len,
			 "profile %s: no data lines (expected "
			 "time_s,power_w)",
			 path);
		return -1;
	}
	return 0;
bad:
	snprintf(err, len, "%s:%u: expected time_s,power_w (two numbers)", path,
		 lineno);
	fclose(f);
	return -1;
oom:
	snprintf(err, len, "profile %s: out of memory", path);
	fclose(f);
	return -1;
}

int prof_set(struct engine *e, const struct cfg_profile *cp, char *err,
	     size_t len)
{
	struct eng_profile p;
	memset(&p, 0, sizeof(p));
	p.cfg = *cp;
	/* the scale is the caller's (default 1 in the config and the
	 * control socket); 0 is a valid factor that mutes the profile */
	if (!isfinite(p.cfg.scale))
		p.cfg.scale = 1.0;
	if (strcmp(cp->name, "csv") == 0) {
		if (!cp->csv_path[0]) {
			snprintf(err, len,
				 "profile csv needs a file "
				 "(profile_csv = PATH)");
			return -1;
		}
		if (load_csv(&p, cp->csv_path, err, len) < 0) {
			prof_free(&p);
			return -1;
		}
		p.kind = PROF_CSV;
	} else if (strcmp(cp->name, "peak-shaving") == 0) {
		p.kind = PROF_PEAK;
	} else if (strcmp(cp->name, "regulation") == 0) {
		double sum = 0.0;
		p.kind = PROF_REG;
		/* a RegD-like signal: 6 sinusoids with seeded periods of 1 to
		 * 20 minutes (log-uniform), phases and weights; each has zero
		 * mean, so the signal is energy-neutral over long windows */
		for (int k = 0; k < 6; k++) {
			double u = rng_uniform(e->cfg.seed, RNG_REG, 3 * k);
			p.period_s[k] = 60.0 * pow(20.0, u);
			p.phase[k] =
			    6.283185307179586 *
			    rng_uniform(e->cfg.seed, RNG_REG, 3 * k + 1);
			p.amp[k] = 0.5 + 0.5 * rng_uniform(e->cfg.seed, RNG_REG,
							   3 * k + 2);
			sum += p.amp[k];
		}
		for (int k = 0; k < 6; k++)
			p.amp[k] /= sum;
	} else if (strcmp(cp->name, "cycle") == 0) {
		double soc = 0.0;
		for (uint32_t r = 0; r < e->R; r++)
			soc += e->rstats[r].n
				   ? e->rstats[r].soc_sum / e->rstats[r].n
				   : e->cfg.initial_soc;
		soc /= e->R;
		p.kind = PROF_CYCLE;
		p.cyc_phase = soc > 0.5 ? CYC_DISCHARGE : CYC_CHARGE_CC;
	} else {
		snprintf(err, len,
			 "unknown profile '%s' (use none, csv, "
			 "peak-shaving, regulation or cycle)",
			 cp->name);
		return -1;
	}
	prof_free(&e->prof);
	e->prof = p;
	return 0;
}

uint32_t prof_code(const struct engine *e)
{
	return (uint32_t)e->prof.kind; /* PROF_* matches bs_site.profile */
}

/* Peak-shaving day, fraction of the nominal 0.5 C power (+ discharge):
 * charge at night (01:00-05:30) and from solar at midday (10:00-15:00),
 * discharge over the evening peak (17:00-21:00), ramps of 30 minutes to an
 * hour.  Roughly energy-neutral (the losses come out of the SoC). */
static double peak_shape(double t_s)
{
	static const double h[] = {0,  1,  1.5, 5,    5.5,  10, 11,
				   14, 15, 17,	17.5, 20.5, 21, 24};
	static const double f[] = {0,	 0, -0.5, -0.5, 0,   0, -0.3,
				   -0.3, 0, 0,	  0.9,	0.9, 0, 0};
	double x = fmod(t_s, 86400.0) / 3600.0;
	for (size_t i = 1; i < sizeof(h) / sizeof(h[0]); i++)
		if (x <= h[i])
			return f[i - 1] + (f[i] - f[i - 1]) * (x - h[i - 1]) /
					      (h[i] - h[i - 1]);
	return 0.0;
}

static double csv_value(const struct eng_profile *p, double t)
{
	double t0 = p->t[0], tn = p->t[p->n - 1];
	size_t lo = 0, hi = p->n - 1;
	if (p->cfg.loop && tn > t0) {
		if (t >= tn)
			t = t0 + fmod(t - t0, tn - t0);
	}
	if (t <= t0)
		return p->p[0];
	if (t >= tn)
		return p->p[p->n - 1]; /* not looped: hold the last value */
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (p->t[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return p->p[lo] +
	       (p->p[hi] - p->p[lo]) * (t - p->t[lo]) / (p->t[hi] - p->t[lo]);
}

/* The cycle: CC-CV charge at the rack charge limit until the BMS ends
 * it (C/20 or full, bms.c), rest, discharge at the rack limit until the
 * BMS reaches the discharge cut-off, rest. */
static void cycle_apply(struct engine *e, double t)
{
	struct eng_profile *p = &e->prof;
	const struct cfg_bms *b = &e->cfg.bms;
	uint32_t closed = 0, full = 0, empty = 0;
	for (uint32_t r = 0; r < e->R; r++) {
		if (e->rk[r].fault_open || e->rk[r].prot_open)
			continue;
		closed++;
		full += e->rk[r].chg_done ? 1u : 0u;
		empty += e->rk[r].dis_done ? 1u : 0u;
	}
	if (closed == 0) {
		e->eff_setpoint = 0.0;
		return;
	}
	switch (p->cyc_phase) {
	case CYC_CHARGE_CC:
	case CYC_CHARGE_CV:
		e->eff_setpoint = -b->max_charge_a * closed;
		if (full == closed) {
			p->cyc_phase = CYC_REST_FULL;
			p->cyc_since_s = t;
			e->eff_setpoint = 0.0;
		}
		break;
	case CYC_REST_FULL:
	case CYC_REST_EMPTY:
		e->eff_setpoint = 0.0;
		if (t - p->cyc_since_s >= 600.0)
			p->cyc_phase = p->cyc_phase == CYC_REST_FULL
					   ? CYC_DISCHARGE
					   : CYC_CHARGE_CC;
		break;
	case CYC_DISCHARGE:
	default:
		e->eff_setpoint = b->max_discharge_a * closed;
		if (empty == closed) {
			p->cyc_phase = CYC_REST_EMPTY;
			p->cyc_since_s = t;
			e->eff_setpoint = 0.0;
		}
		break;
	}
}

void prof_apply(struct engine *e, double t)
{
	struct eng_profile *p = &e->prof;
	switch (p->kind) {
	case PROF_NONE:
		e->eff_mode = e->mode;
		e->eff_setpoint = e->setpoint;
		return;
	case PROF_CSV:
		e->eff_mode = BS_MODE_POWER;
		e->eff_setpoint = p->cfg.scale * csv_value(p, t);
		return;
	case PROF_PEAK:
		e->eff_mode = BS_MODE_POWER;
		e->eff_setpoint = p->cfg.scale * e->p_nom_w * peak_shape(t);
		return;
	case PROF_REG: {
		/* AGC updates every 2 s: sample and hold */
		double th = 2.0 * floor(t / 2.0), s = 0.0;
		for (int k = 0; k < 6; k++)
			s += p->amp[k] *
			     sin(6.283185307179586 * th / p->period_s[k] +
				 p->phase[k]);
		e->eff_mode = BS_MODE_POWER;
		e->eff_setpoint = p->cfg.scale * e->p_nom_w * s;
		return;
	}
	case PROF_CYCLE:
		e->eff_mode = BS_MODE_CURRENT;
		cycle_apply(e, t);
		return;
	}
}
