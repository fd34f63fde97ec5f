/*
 * chemtables.c - the chemistry's measured tables (src/common/chemistry.c,
 * data) in the engine's form: struct bsm_chem (model.h).
 */
#include "config.h"

#include <math.h>

#include "chemistry.h"
#include "model.h"

void chem_tables(struct bsm_chem *m, const char *name)
{
	const struct chem_tabdata *t = chem_tabdata(name);

	m->rt_ns = m->rt_nt = m->hy_n = m->ds_n = m->cap_n = 0;
	m->hy_gamma = 0.0;
	if (!t)
		return;
	m->rt_ns = t->rt_ns;
	m->rt_nt = t->rt_nt;
	for (unsigned i = 0; i < t->rt_ns; i++) {
		m->rt_soc[i] = 0.1 * i;
		for (unsigned j = 0; j < t->rt_nt; j++) {
			m->rt_ln[0][i][j] = log(t->r_dis[i][j]);
			m->rt_ln[1][i][j] = log(t->r_chg[i][j]);
		}
	}
	for (unsigned j = 0; j < t->rt_nt; j++)
		m->rt_invt[j] = 1.0 / (t->rt_t_c[j] + BSM_KELVIN);
	m->hy_n = t->hy_n;
	for (unsigned i = 0; i < t->hy_n; i++) {
		m->hy_soc[i] = 0.01 * i;
		m->hy_v[i] = t->hy_v[i];
	}
	m->hy_gamma = t->hy_gamma;
	m->ds_n = t->ds_n;
	for (unsigned i = 0; i < t->ds_n; i++) {
		m->ds_soc[i] = 0.1 * i;
		m->ds_v[i] = t->ds_v[i];
	}
	m->cap_n = t->cap_n;
	for (unsigned i = 0; i < t->cap_n; i++) {
		m->cap_t[i] = t->cap_t[i];
		m->cap_f[i] = t->cap_f[i];
	}
}
