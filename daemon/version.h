/* version.h — the version of churnwatchd and churnwatch, defined here only. The Makefile
 * reads it for `make deb`, whose debian/changelog must name the same version (the build
 * refuses otherwise). */
#ifndef CW_VERSION_H
#define CW_VERSION_H

#define CW_VERSION "0.1.0"

#endif
