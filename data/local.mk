# data: rules for this area (included by the top Makefile.am)

# The dashboard (plain HTML/CSS/JS, no build step), served by batsim-httpd
# from $(pkgdatadir)/www; Chart.js comes from Debian's libjs-chart.js.
wwwdir = $(pkgdatadir)/www
dist_www_DATA = \
	data/www/index.html \
	data/www/app.js \
	data/www/style.css \
	data/www/favicon.svg
