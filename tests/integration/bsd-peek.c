/*
 * bsd-peek.c - a tiny libbatsim reader for tests/integration/batsimd.sh:
 * prints the header state and one consistent snapshot as key=value lines
 * (independent of batsimctl's output format).
 *
 *   bsd-peek NAME [RACK MODULE CELL]
 *
 * Exit status: 0 printed, 2 no segment, 1 other error.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>

#include <batsim/batsim.h>

int main(int argc, char **argv)
{
	static const char *const states[] = {"INIT", "RUNNING", "STOPPED"};
	uint32_t loc[3] = {0, 0, 0};
	struct bs_info info;
	struct bs_meta meta;
	struct bs_site site;
	struct bs_rack *racks;
	struct bs_cell cell;
	bs_reader *r;
	int rc;

	if (argc != 2 && argc != 5) {
		fprintf(stderr, "usage: bsd-peek NAME [RACK MODULE CELL]\n");
		return 1;
	}
	for (int i = 0; argc == 5 && i < 3; i++)
		loc[i] = (uint32_t)strtoul(argv[2 + i], NULL, 10);
	rc = bs_reader_open(argv[1], &r);
	if (rc < 0) {
		fprintf(stderr, "bsd-peek: %s: %s\n", argv[1], bs_strerror(rc));
		return rc == -BS_ENOENT ? 2 : 1;
	}
	bs_reader_info(r, &info);
	printf("state=%s\n", info.state < 3 ? states[info.state] : "?");
	printf("live=%d\n", bs_reader_live(r) == 0);
	printf("pid=%d\n", (int)info.writer_pid);
	printf("generation=%llu\n", (unsigned long long)info.generation);
	printf("topology=%ux%ux%u\n", info.topo.racks,
	       info.topo.modules_per_rack, info.topo.cells_per_module);
	printf("slots=%u\n", info.n_slots);
	printf("backend=%u\n", info.backend);
	printf("chemistry=%s\n", info.chemistry);
	printf("tick_period_ns=%llu\n",
	       (unsigned long long)info.tick_period_ns);
	racks = calloc(info.topo.racks, sizeof *racks);
	if (!racks)
		return 1;
	rc = bs_read_site(r, &meta, &site, racks);
	if (rc == 0)
		rc = bs_read_cell(r, loc[0], loc[1], loc[2], NULL, &cell);
	if (rc < 0) {
		printf("data=%s\n", bs_strerror(rc));
		bs_reader_close(r);
		free(racks);
		return 0;
	}
	printf("tick=%llu\n", (unsigned long long)meta.tick);
	printf("time_s=%.6f\n", meta.sim_time_s);
	printf("mode=%s\n", site.mode == BS_MODE_CURRENT ? "current" : "power");
	printf("setpoint=%.6g\n", (double)site.setpoint);
	printf("ambient_c=%.6g\n", (double)site.ambient_c);
	printf("site_current_a=%.6g\n", (double)site.current_a);
	printf("site_power_w=%.6g\n", (double)site.power_w);
	printf("bus_voltage_v=%.6g\n", (double)site.bus_voltage_v);
	printf("profile=%u\n", site.profile);
	printf("faults_active=%u\n", site.faults_active);
	printf("racks_closed=%u\n", site.racks_closed);
	printf("rack0_current_a=%.6g\n", (double)racks[0].current_a);
	printf("cell_voltage=%.6g\n", (double)cell.voltage);
	printf("cell_current=%.6g\n", (double)cell.current);
	printf("cell_temperature=%.6g\n", (double)cell.temperature);
	printf("cell_soc=%.6g\n", (double)cell.soc);
	printf("cell_resistance=%.6g\n", (double)cell.resistance);
	/* abi_minor 1: daemon and Modbus-facing state */
	printf("paused=%u\n", site.paused);
	printf("speed=%.6g\n", (double)site.speed);
	printf("soc_reserve_min=%.6g\n", (double)site.soc_reserve_min);
	printf("soc_reserve_max=%.6g\n", (double)site.soc_reserve_max);
	printf("mb_fault_bits=%u\n", site.mb_fault_bits);
	printf("mb_fault_revision=%u\n", site.mb_fault_revision);
	printf("mb_clients=%u\n", site.mb_clients);
	printf("mb_alive=%u\n", site.mb_alive);
	printf("mb_requests=%llu\n", (unsigned long long)site.mb_requests);
	printf("charge_limit_a=%.6g\n", (double)site.charge_limit_a);
	printf("discharge_limit_a=%.6g\n", (double)site.discharge_limit_a);
	for (uint32_t k = 0; k < info.topo.racks; k++)
		printf("rack%u_current_a=%.6g\n"
		       "rack%u_contactor=%u\nrack%u_operator_open=%u\n"
		       "rack%u_soc=%.6g\nrack%u_charge_limit_a=%.6g\n"
		       "rack%u_discharge_limit_a=%.6g\n",
		       k, (double)racks[k].current_a, k, racks[k].contactor, k,
		       racks[k].operator_open, k,
		       (double)racks[k].soc_mean, k,
		       (double)racks[k].charge_limit_a, k,
		       (double)racks[k].discharge_limit_a);
	free(racks);
	bs_reader_close(r);
	return 0;
}
