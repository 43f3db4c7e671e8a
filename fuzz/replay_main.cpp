// Replays fuzzer inputs without libFuzzer: every file named on the command
// line, and every regular file in every directory named, in name order, runs
// once through LLVMFuzzerTestOneInput. An invariant violation traps, so a
// clean exit means every input passed. Builds with g++ or clang++.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

bool read_file(const std::string& path, std::vector<std::uint8_t>* out) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  out->clear();
  std::uint8_t buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out->insert(out->end(), buf, buf + n);
  std::fclose(f);
  return true;
}

void collect(const std::string& path, std::vector<std::string>* files) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    std::fprintf(stderr, "psn_fuzz_replay: cannot open %s\n", path.c_str());
    return;
  }
  if (!S_ISDIR(st.st_mode)) {
    files->push_back(path);
    return;
  }
  std::vector<std::string> names;
  if (DIR* d = ::opendir(path.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string full = path + "/" + e->d_name;
      if (e->d_name[0] != '.' && ::stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode))
        names.push_back(full);
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  files->insert(files->end(), names.begin(), names.end());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) collect(argv[i], &files);
  if (files.empty()) {
    std::fprintf(stderr, "usage: %s FILE|DIR...  (no inputs found)\n", argv[0]);
    return 2;
  }
  std::vector<std::uint8_t> data;
  for (const std::string& f : files) {
    if (!read_file(f, &data)) {
      std::fprintf(stderr, "psn_fuzz_replay: cannot read %s\n", f.c_str());
      return 2;
    }
    LLVMFuzzerTestOneInput(data.data(), data.size());
  }
  std::printf("psn_fuzz_replay: %zu inputs passed\n", files.size());
  return 0;
}
