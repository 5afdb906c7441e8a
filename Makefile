# Developer entry point. The two commands a new user needs: `make demo` and `make test`.
.PHONY: setup demo test fast unit lint sanity build oldest docs molecule clean

setup:
	./scripts/bootstrap.sh

demo: ## main job: boot the lab guest with a virtio failover pair, apply site.yml, print the report
	./scripts/demo.sh

test: ## the whole test suite (unit, lint, sanity, build, oldest, docs, Molecule VM scenarios)
	./scripts/test.sh

fast: ## inner loop: everything but the VM scenarios
	./scripts/test.sh fast

unit lint sanity build oldest docs molecule:
	./scripts/test.sh $@

clean:
	rm -rf build .cache
