# src/batsimd: the batsimd program (the engine itself is in engine.mk).

# The default configuration file, /etc/batsim/batsim.conf.
batsimconfdir = $(sysconfdir)/batsim
dist_batsimconf_DATA = data/batsim.conf
