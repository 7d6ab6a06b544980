// SPDX-License-Identifier: MIT
/*
 * fuzz-main: a main() for a fuzz target without libFuzzer. Each argument
 * is a file or a directory of files (in name order, not recursive); every
 * file is fed to LLVMFuzzerTestOneInput once, and must be refused if its
 * name starts with "bad-", accepted otherwise (fuzz.h). This is how `meson
 * test` runs the seed corpora as regression tests in every build (ASan CI
 * too).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

static int run_file(const char *path)
{
	const char *name;
	struct stat st;
	uint8_t *buf;
	size_t off = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "fuzz-main: %s: %s\n", path, strerror(errno));
		return -1;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		close(fd);
		return -1;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);

		if (n <= 0) {
			fprintf(stderr, "fuzz-main: %s: short read\n", path);
			free(buf);
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	close(fd);
	FUZZ_REJECT("(the target did not say)");
	LLVMFuzzerTestOneInput(buf, off);
	free(buf);
	name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	if (fuzz_reject[0])
		printf("%s: refused: %s\n", path, fuzz_reject);
	else
		printf("%s: accepted\n", path);
	if (!strncmp(name, "bad-", 4) != !!fuzz_reject[0]) {
		fprintf(stderr, "fuzz-main: %s: a seed named %s is %s\n", path,
			fuzz_reject[0] ? "like this must be accepted" : "bad-* must be refused",
			fuzz_reject[0] ? "refused" : "accepted");
		return -1;
	}
	return 0;
}

static int run_dir(const char *dir, unsigned *count)
{
	struct dirent **ents;
	char path[4096];
	int n, err = 0;

	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "fuzz-main: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
			if (run_file(path))
				err = -1;
			else
				(*count)++;
		}
		free(ents[i]);
	}
	free(ents);
	return err;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	struct stat st;
	int err = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		if (stat(argv[i], &st)) {
			fprintf(stderr, "fuzz-main: %s: %s\n", argv[i], strerror(errno));
			err = -1;
		} else if (S_ISDIR(st.st_mode)) {
			err |= run_dir(argv[i], &count);
		} else if (run_file(argv[i])) {
			err = -1;
		} else {
			count++;
		}
	}
	if (!count) {
		fprintf(stderr, "fuzz-main: no inputs\n");
		return 1;
	}
	printf("%s: %u inputs ok\n", argv[0], count);
	return err ? 1 : 0;
}
