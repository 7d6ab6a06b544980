/*
 * files GRANTED UNGRANTED: prints the granted file (open, fstat, read,
 * lseek, pread); opening UNGRANTED must fail with ENOENT, writing to the
 * granted one with EACCES.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char buf[256], again[8];
	struct stat st;
	ssize_t n;
	int fd;

	if (argc != 3)
		return 10;
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode))
		return 11;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0 || n != st.st_size)
		return 12;
	buf[n] = 0;
	if (lseek(fd, 1, SEEK_SET) != 1 || pread(fd, again, 4, 0) != 4 || memcmp(again, buf, 4))
		return 13;
	close(fd);
	printf("granted: %s", buf);
	if (open(argv[2], O_RDONLY) >= 0 || errno != ENOENT)
		return 14;
	printf("ungranted: %s\n", strerror(errno));
	if (open(argv[1], O_WRONLY) >= 0 || errno != EACCES)
		return 15;
	FILE *f = fopen(argv[2], "r");

	if (f)
		return 16;
	printf("files ok\n");
	return 0;
}
