// Checks the system tools that the tests need and that npm cannot install.
// Prints one line per missing tool (plus one combined install command when
// several are missing) and exits 1, or prints nothing and exits 0.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const prerequisites = [
  {
    problem: 'redis-server was not found on PATH',
    found: () => isOnPath('redis-server'),
    debianPackage: 'redis-server',
  },
  {
    problem: 'the librdkafka mock cluster header /usr/include/librdkafka/rdkafka_mock.h was not found',
    found: () => isReadable('/usr/include/librdkafka/rdkafka_mock.h'),
    debianPackage: 'librdkafka-dev',
  },
  {
    problem: 'the C compiler cc was not found on PATH',
    found: () => isOnPath('cc'),
    debianPackage: 'gcc',
  },
  {
    problem: 'docker-compose was not found on PATH',
    found: () => isOnPath('docker-compose'),
    debianPackage: 'docker-compose',
  },
  {
    problem: 'the browser /usr/bin/chromium, which the demo page test drives, was not found',
    found: () => isReadable('/usr/bin/chromium'),
    debianPackage: 'chromium',
  },
  {
    problem: 'python3 cannot import sklearn, which the NDCG agreement test runs',
    // The same interpreters, in the same order, as the test: Debian's python3-sklearn installs
    // into /usr/bin/python3, which another python3 earlier on PATH may shadow.
    found: () => ['/usr/bin/python3', 'python3'].some((python) => spawnSync(python, ['-c', 'import sklearn'], { stdio: 'ignore' }).status === 0),
    debianPackage: 'python3-sklearn',
  },
];

function isReadable(path) {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

function isOnPath(command) {
  const directories = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return directories.some((directory) => {
    try {
      accessSync(join(directory, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const missing = prerequisites.filter((prerequisite) => !prerequisite.found());
for (const { problem, debianPackage } of missing) {
  console.error(`Missing prerequisite: ${problem}. Install the Debian package ${debianPackage}: apt-get install -y ${debianPackage}`);
}
if (missing.length > 1) {
  const packages = missing.map((prerequisite) => prerequisite.debianPackage).join(' ');
  console.error(`To install all missing packages at once: apt-get install -y ${packages}`);
}
process.exitCode = missing.length > 0 ? 1 : 0;
