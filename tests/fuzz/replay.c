/*
 * Runs a fuzz target over files, without libFuzzer: the seed corpus and every
 * crash ever found (kept in tests/fuzz/corpus/<target>/) replay as an
 * ordinary test in every build.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *data;
    long len;
    if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (len = ftell(fp)) < 0) {
        perror(path);
        return 1;
    }
    rewind(fp);
    data = malloc((size_t) len + 1);
    if (data == NULL || fread(data, 1, (size_t) len, fp) != (size_t) len) {
        perror(path);
        return 1;
    }
    fclose(fp);
    (void) LLVMFuzzerTestOneInput(data, (size_t) len);
    free(data);
    return 0;
}

int
main(int argc, char **argv)
{
    int files = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            char p[4096];
            while (d != NULL && (e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.')
                    continue;
                snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
                if (run_file(p) != 0)
                    return 1;
                files++;
            }
            if (d != NULL)
                closedir(d);
        } else {
            if (run_file(argv[i]) != 0)
                return 1;
            files++;
        }
    }
    printf("replayed %d input(s)\n", files);
    return files > 0 ? 0 : 1;
}
