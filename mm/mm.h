/* mm: guest memory manager (placeholder until the mm issue lands). */
#ifndef MM_MM_H
#define MM_MM_H
int mm__version(void);
#endif
