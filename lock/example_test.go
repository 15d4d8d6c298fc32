// The examples take real locks, which plan9, js and wasip1 do not have (see ErrUnsupported).

//go:build unix || windows

package lock_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/litedir/litedir/lock"
)

func ExampleAcquire() {
	dir, err := os.MkdirTemp("", "litedir-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	l, err := lock.Acquire(ctx, dir, lock.Options{
		Program: "myapp/1.4.2",
		Meta:    map[string]string{"addr": "127.0.0.1:7070"},
	})
	if err != nil {
		log.Fatal(err)
	}

	// A second holder, in this process or another, is refused and told who holds the directory.
	_, err = lock.Acquire(ctx, dir, lock.Options{})
	var locked *lock.LockedError
	if errors.As(err, &locked) {
		fmt.Println("locked:", errors.Is(err, lock.ErrLocked))
		fmt.Println("held by:", locked.Owner.Program, locked.Owner.Meta["addr"])
	}

	// Anyone can read the owner record without locking.
	owner, err := lock.ReadOwner(dir, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("record:", owner.PID == os.Getpid())

	if err := l.Release(); err != nil {
		log.Fatal(err)
	}
	owner, err = lock.ReadOwner(dir, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("free:", owner.IsZero())
	// Output:
	// locked: true
	// held by: myapp/1.4.2 127.0.0.1:7070
	// record: true
	// free: true
}

func ExampleAcquire_shared() {
	dir, err := os.MkdirTemp("", "litedir-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	// Readers share the directory; a writer has to wait until they are gone.
	r1, err := lock.Acquire(ctx, dir, lock.Options{Mode: lock.Shared})
	if err != nil {
		log.Fatal(err)
	}
	r2, err := lock.Acquire(ctx, dir, lock.Options{Mode: lock.Shared})
	if err != nil {
		log.Fatal(err)
	}
	_, err = lock.Acquire(ctx, dir, lock.Options{Mode: lock.Exclusive})
	fmt.Println(err != nil && errors.Is(err, lock.ErrLocked))

	r1.Release()
	r2.Release()
	w, err := lock.Acquire(ctx, dir, lock.Options{Mode: lock.Exclusive})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Release()
	fmt.Println(w.Mode())
	// Output:
	// true
	// exclusive
}
