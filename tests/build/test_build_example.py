"""examples/busybox-httpd: prepared, built as the README says, and its image serves its page."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from kybernetes.build.builder import Builder, BuildOptions
from kybernetes.images.store import ImageStore
from tests.build.conftest import needs_root
from tests.build.test_build_builder import run_image

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "busybox-httpd"

pytestmark = needs_root()


async def test_the_example_builds_and_its_image_serves_the_page(builder: Builder, store: ImageStore, tmp_path: Path) -> None:
    # A copy: the test leaves no busybox binary in the work tree.
    context = tmp_path / "busybox-httpd"
    shutil.copytree(EXAMPLE, context, ignore=shutil.ignore_patterns("busybox"))
    subprocess.run([str(context / "prepare.sh")], check=True, capture_output=True)
    result = await builder.build(BuildOptions(context=context, tags=("busybox-httpd:1",)))
    image = result.image
    cfg = store.image_config(image)
    assert cfg["Cmd"] == ["httpd", "-f", "-v", "-p", "8080", "-h", "/www"]
    assert (cfg["User"], cfg["WorkingDir"], cfg["ExposedPorts"]) == ("33:33", "/www", {"8080/tcp": {}})
    assert len(image.layers) == 1
    ran = await run_image(store, image, tmp_path, [
        "sh", "-c", "httpd -p 8080 -h /www && sleep 0.2 && wget -q -O- http://127.0.0.1:8080/ && id -u"])
    assert ran.exit_code == 0, ran.output
    assert b"Hello from an image built by <code>kyb build</code>." in ran.output
    assert ran.output.endswith(b"33\n")
    again = await builder.build(BuildOptions(context=context, tags=("busybox-httpd:1",)))
    assert again.cache_misses == [] and again.image.id == image.id
