#ifndef VERSION_H
#define VERSION_H

#define CALC_VERSION "1.0"

#endif
