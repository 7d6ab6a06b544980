#include "mm.h"
int mm__version(void)
{
	return 1;
}
