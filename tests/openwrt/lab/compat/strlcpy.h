/* strlcpy for glibc < 2.38 (OpenWrt's sources are written for musl, which has it).
 * build.sh force-includes this file (gcc -include) only when the host C library lacks
 * strlcpy. It includes no header itself, so it cannot fix feature macros ahead of the source. */
#ifndef V6ONLY_LAB_STRLCPY_H
#define V6ONLY_LAB_STRLCPY_H
static inline __SIZE_TYPE__ v6only_lab_strlcpy(char *dst, const char *src, __SIZE_TYPE__ size)
{
	__SIZE_TYPE__ len = __builtin_strlen(src);

	if (size > 0) {
		__SIZE_TYPE__ n = len < size ? len : size - 1;

		__builtin_memcpy(dst, src, n);
		dst[n] = 0;
	}
	return len;
}
#define strlcpy v6only_lab_strlcpy
#endif
