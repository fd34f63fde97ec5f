# data: rules for this area (included by the top Makefile.am)

# The dashboard (plain HTML/CSS/JS, no build step), served by batsim-httpd
# from $(pkgdatadir)/www; Chart.js comes from Debian's libjs-chart.js.
wwwdir = $(pkgdatadir)/www
dist_www_DATA = \
	data/www/index.html \
	data/www/app.js \
	data/www/alarms.js \
	data/www/controls.js \
	data/www/dom.js \
	data/www/early.js \
	data/www/format.js \
	data/www/header.js \
	data/www/module.js \
	data/www/overview.js \
	data/www/state.js \
	data/www/stream.js \
	data/www/trends.js \
	data/www/style.css \
	data/www/favicon.svg

# OCV tables and their sources, for users' own cell tables (ocv_csv key);
# the presets compiled into batsimd carry the same numbers.
chemistrydir = $(pkgdatadir)/chemistry
dist_chemistry_DATA = data/chemistry/ocv_lfp_breakpoints.csv \
	data/chemistry/ocv_nmc100.csv data/chemistry/SOURCES.md
# the Sony LFP tables compiled into the lfp280 preset (chemistry.c); the
# trace and lab checks read them
EXTRA_DIST += data/chemistry/sony_us26650_ocv.csv \
	data/chemistry/sony_us26650_hysteresis.csv \
	data/chemistry/sony_us26650_rint.csv \
	data/chemistry/sony_us26650_entropy.csv
